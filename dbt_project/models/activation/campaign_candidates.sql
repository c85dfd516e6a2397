-- The contact policy (docs/metrics.md#contact-policy): every candidate of the as-of date ends in
-- exactly one state. Order of the decision (the first rule that stops a candidate gives its reason):
-- 1. unknown_customer: the customer is not in staging customers (no profile, no consent);
-- 2. already_sent / cooldown: the campaign's repeat rule on its dedupe key, or the seed's
--    per-campaign cooldown_days (contact log of earlier days, queued and held-out rows: a held-out
--    customer "had" the message, so control and treated repeat alike);
-- 3. channel: among the campaign's channels that pass consent, address and frequency caps, the one
--    the customer engaged with most (message_open/click over channel_engagement_days); a tie keeps
--    the seed's order. None passes: no_consent when no channel has consent, else no_address when no
--    consented channel has an address, else frequency_cap;
-- 4. daily_volume: the campaign's optional daily cap; its candidates beyond it, in order of
--    predicted CLV (none last) then customer_id, wait;
-- 5. daily_marketing_limit: one marketing message per customer per day: the lowest priority number
--    wins, then the campaign name, then the dedupe key; service messages are exempt;
-- 6. holdout / control_group: the campaign's stable md5 control group among those who would be sent
--    (a holdout keeps its slot: the customer gets nothing else that day);
-- 7. queued / eligible: sent at the campaign's hour in the recipient's time zone (a valid IANA
--    name, else the store's), clamped into the preset's allowed hours.
-- depends_on: {{ ref('contact_policy_presets') }}
-- depends_on: {{ ref('contact_policy_campaigns') }}
-- depends_on: {{ ref('contact_policy_caps') }}
{{ assert_contact_policy() }}
{%- set marketing = act_in(marketing_campaigns()) %}

with proposals as (
    select * from {{ ref('activation_proposals') }}
),

policy_campaigns as (
    select * from {{ ref('activation_policy_campaigns') }}
),

-- 2: repeat rule and cooldowns
repeats as (
    select candidate_id, reason
    from (
        select
            candidate_id,
            reason,
            row_number() over (partition by candidate_id order by precedence) as reason_rank
        from (
            -- a key that never repeats: contacted on any earlier day
            select p.candidate_id, 'already_sent' as reason, 1 as precedence
            from proposals as p
            join {{ contact_log_keys_before_as_of() }} as k
                on k.customer_id = p.customer_id
                and k.dedupe_key = p.dedupe_key
            where p.repeat_after_days is null

            union all

            -- a key that repeats: contacted within its repeat window
            select p.candidate_id, 'cooldown' as reason, 1 as precedence
            from proposals as p
            join (
                select customer_id, dedupe_key, max(as_of_date) as last_on
                from {{ contact_log_recent('repeats') }} as h
                -- only the keys of today's repeating proposals can match (a handful of values)
                where dedupe_key in (
                    select dedupe_key from proposals where repeat_after_days is not null)
                group by customer_id, dedupe_key
            ) as k
                on k.customer_id = p.customer_id
                and k.dedupe_key = p.dedupe_key
            where k.last_on > {{ add_days('-p.repeat_after_days', act_day()) }}

            union all

            select p.candidate_id, 'cooldown' as reason, 2 as precedence
            from proposals as p
            join policy_campaigns as c on c.campaign = p.campaign
            join (
                select customer_id, campaign, max(as_of_date) as last_on
                from {{ contact_log_recent('cooldowns') }} as h
                -- only campaigns with a cooldown can match (the join below asks for one)
                where campaign in (select campaign from policy_campaigns where cooldown_days > 0)
                group by customer_id, campaign
            ) as l
                on l.customer_id = p.customer_id
                and l.campaign = p.campaign
            where c.cooldown_days > 0
              and l.last_on > {{ add_days('-c.cooldown_days', act_day()) }}
        ) as reasons
    ) as ranked
    where reason_rank = 1
),

-- frequency caps: a (customer, channel) whose queued marketing sends of the window's earlier days
-- already reach max_sends (today's would be one more); held-out and service rows never count
capped as (
    select distinct customer_id, channel
    from (
        select h.customer_id, h.channel, c.max_sends, count(*) as sends
        from {{ contact_log_recent('caps') }} as h
        join {{ ref('contact_policy_caps') }} as c
            on c.channel = h.channel
            and c.preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
        where h.state = 'queued'
          and h.category = 'marketing'
          and h.as_of_date > {{ add_days('-c.window_days', act_day()) }}
        group by h.customer_id, h.channel, c.window_days, c.max_sends
    ) as counted
    where sends >= max_sends
),

-- engagement: message_open / message_click events naming the channel, over the
-- channel_engagement_days days ending on the as-of date (local dates). The channel is matched by a
-- join, not `in (...)`: an optimizer inlines the JSON extraction into the filter once per listed
-- value (DuckDB: 32 of the 44 s of this model at a million customers).
engagement as (
    select engaged.customer_id, engaged.channel, count(*) as engagements
    from (
        select
            customer_id,
            lower(trim({{ json_text('properties', 'channel') }})) as channel,
            cast({{ to_local('occurred_at') }} as date) as local_date
        from {{ ref('stg_shop__events') }}
        where event_type in ('message_open', 'message_click') and customer_id is not null
          and {{ near_local_days('occurred_at', 1 - run_var('channel_engagement_days', 180) | int, 0) }}
    ) as engaged
    inner join (
        select 'email' as channel union all select 'sms' union all select 'push'
        union all select 'wechat'
    ) as known on known.channel = engaged.channel
    where engaged.local_date between {{ act_day(1 - run_var('channel_engagement_days', 180) | int) }} and {{ act_day() }}
    group by engaged.customer_id, engaged.channel
),

time_zones as (
    select name from {{ ref('time_zones') }}
),

-- 1-2: the candidate with its campaign's policy, the recipient, and the reasons that stop it
-- before any channel is looked at
screened as (
    select
        p.candidate_id, p.customer_id, p.campaign, p.dedupe_key,
        c.category, c.priority, c.control_share, c.send_hour, c.daily_volume_cap,
        k.first_name,
        k.language,
        coalesce(z.name, {{ act_store_tz() }}) as recipient_timezone,
        case when k.customer_id is null then 'unknown_customer' else r.reason end as early_reason
    from proposals as p
    join policy_campaigns as c on c.campaign = p.campaign
    left join {{ ref('stg_shop__customers') }} as k on k.customer_id = p.customer_id
    left join time_zones as z on z.name = k.timezone
    left join repeats as r on r.candidate_id = p.candidate_id
),

-- 3: the channel, per customer and campaign
options as (
    select
        s.customer_id, s.campaign,
        ch.channel, ch.channel_rank,
        reach.address,
        coalesce(case when s.category = 'service' then reach.service_ok else reach.marketing_ok end,
                 false) as consent_ok,
        reach.address is not null as address_ok,
        s.category = 'service' or cap.customer_id is null as cap_ok,
        coalesce(e.engagements, 0) as engagements
    from (
        select distinct customer_id, campaign, category
        from screened
        where early_reason is null
    ) as s
    join {{ ref('activation_policy_channels') }} as ch on ch.campaign = s.campaign
    left join {{ ref('activation_reach') }} as reach
        on reach.customer_id = s.customer_id and reach.channel = ch.channel
    left join capped as cap
        on cap.customer_id = s.customer_id and cap.channel = ch.channel
    left join engagement as e
        on e.customer_id = s.customer_id and e.channel = ch.channel
),

channels as (
    select
        customer_id,
        campaign,
        max(case when usable and option_rank = 1 then channel end) as channel,
        max(case when usable and option_rank = 1 then address end) as address,
        case
            when max(case when usable then 1 else 0 end) = 1 then null
            when max(case when consent_ok and address_ok then 1 else 0 end) = 1 then 'frequency_cap'
            when max(case when consent_ok then 1 else 0 end) = 1 then 'no_address'
            else 'no_consent'
        end as reason
    from (
        select
            o.*,
            -- most engaged first, then the campaign's order; unusable channels rank after
            row_number() over (
                partition by o.customer_id, o.campaign
                order by case when o.usable then 0 else 1 end, o.engagements desc, o.channel_rank
            ) as option_rank
        from (
            select *, consent_ok and address_ok and cap_ok as usable from options
        ) as o
    ) as ranked_options
    group by customer_id, campaign
),

reached as (
    select
        s.*,
        c.channel,
        c.address,
        coalesce(s.early_reason, c.reason) as reached_reason
    from screened as s
    left join channels as c
        on c.customer_id = s.customer_id and c.campaign = s.campaign
),

-- 4: the daily volume cap
volume_ranked as (
    select
        r.candidate_id,
        row_number() over (
            partition by r.campaign
            order by v.predicted_clv desc nulls last, r.customer_id, r.dedupe_key
        ) as volume_rank
    from reached as r
    left join {{ ref('activation_predictions') }} as v on v.customer_id = r.customer_id
    where r.reached_reason is null and r.daily_volume_cap is not null
),

channelled as (
    select
        r.*,
        coalesce(
            r.reached_reason,
            case when q.volume_rank > r.daily_volume_cap then 'daily_volume' end
        ) as policy_reason
    from reached as r
    left join volume_ranked as q on q.candidate_id = r.candidate_id
),

-- 5: one marketing slot per customer and day
slot_winners as (
    select candidate_id
    from (
        select
            candidate_id,
            row_number() over (
                partition by customer_id order by priority, campaign, dedupe_key
            ) as slot_rank
        from channelled
        where policy_reason is null and category = 'marketing'
    ) as contenders
    where slot_rank = 1
),

decided as (
    select
        c.*,
        coalesce(
            c.policy_reason,
            case when c.category = 'marketing' and w.candidate_id is null
                 then 'daily_marketing_limit' end
        ) as final_reason
    from channelled as c
    left join slot_winners as w on w.candidate_id = c.candidate_id
),

-- 6: the control group, drawn only among candidates that would be sent
stated as (
    select
        b.*,
        case
            when b.final_reason is not null then 'suppressed'
            when b.control_bucket < b.control_share then 'holdout'
            else 'queued'
        end as state
    from (
        select
            d.*,
            case when d.final_reason is null
                 then {{ md5_bucket("d.customer_id || '|' || d.campaign") }} end as control_bucket
        from decided as d
    ) as b
)

-- 7: the send time
select
    {{ act_day() }} as as_of_date,
    s.campaign,
    s.category,
    s.customer_id,
    s.dedupe_key,
    s.priority,
    s.state,
    case s.state
        when 'suppressed' then s.final_reason
        when 'holdout' then 'control_group'
        else 'eligible'
    end as reason,
    case when s.state <> 'suppressed' then s.channel end as channel,
    case when s.state = 'queued' then s.address end as address,
    s.first_name,
    s.language,
    s.recipient_timezone,
    case when s.state <> 'suppressed'
        then {{ local_in_tz_to_utc(act_local_send('s.send_hour'), 's.recipient_timezone') }}
    end as send_at_utc,
    case when s.state <> 'suppressed' then {{ act_local_send('s.send_hour') }} end as send_at_local,
    s.control_bucket,
    p.context
from stated as s
join proposals as p on p.candidate_id = s.candidate_id
