{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- Every queued message has the recipient's consent for its channel (accepts_* and no later
-- unsubscribe), except service messages on a consent-free channel. Recomputed from the sources,
-- independently of the policy's own steps.
{%- set preset = act_text(run_var('contact_policy_preset', 'daily_use')) %}
with unsubscribed as (
    select distinct c.customer_id, c.channel
    from {{ ref('campaign_candidates') }} as c
    join {{ ref('stg_shop__customers') }} as s on s.customer_id = c.customer_id
    join {{ ref('stg_shop__events') }} as e
        on e.customer_id = c.customer_id
        and e.event_type = 'unsubscribe'
        and coalesce(nullif(lower(trim({{ json_text('e.properties', 'channel') }})), ''), 'all')
            in (c.channel, 'all')
        and (coalesce(s.updated_at, s.created_at) is null
             or e.occurred_at > coalesce(s.updated_at, s.created_at))
    where c.state = 'queued'
),

free as (
    select replace(coalesce(consent_free_service_channels, ''), ' ', '') as channels
    from {{ ref('contact_policy_presets') }}
    where preset = {{ preset }}
)

select c.customer_id, c.campaign, c.channel, c.state
from {{ ref('campaign_candidates') }} as c
left join {{ ref('stg_shop__customers') }} as s on s.customer_id = c.customer_id
left join unsubscribed as u on u.customer_id = c.customer_id and u.channel = c.channel
cross join free as f
where c.state = 'queued'
  and (
      s.customer_id is null
      or not (
          (coalesce(case c.channel when 'email' then s.accepts_email when 'sms' then s.accepts_sms
                                   when 'push' then s.accepts_push when 'wechat' then s.accepts_wechat
                    end, false)
           and u.customer_id is null)
          -- service (fixed in code, not by the row's own label) may use a consent-free channel
          or (c.campaign not in {{ act_in(marketing_campaigns()) }}
              and {{ dbt.position("'|' || c.channel || '|'", "'|' || f.channels || '|'") }} > 0)
      )
  )
