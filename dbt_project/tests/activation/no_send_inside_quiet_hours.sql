{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- Every queued or held-out message is scheduled on the as-of date between the preset's earliest
-- and latest hour, local to the recipient's time zone (else the store's).
with hours as (
    select earliest_send_hour, latest_send_hour
    from {{ ref('contact_policy_presets') }}
    where preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
),

timed as (
    select
        c.customer_id, c.campaign, c.recipient_timezone, c.send_at_utc,
        coalesce(z.name, {{ act_store_tz() }}) as expected_timezone,
        {{ utc_to_tz('c.send_at_utc', 'c.recipient_timezone') }} as local_time
    from {{ ref('campaign_candidates') }} as c
    left join {{ ref('stg_shop__customers') }} as s on s.customer_id = c.customer_id
    left join {{ ref('time_zones') }} as z on z.name = s.timezone
    where c.state in ('queued', 'holdout')
)

select t.customer_id, t.campaign, t.recipient_timezone, t.send_at_utc, t.local_time
from timed as t
cross join hours as h
where t.send_at_utc is null
   or t.recipient_timezone is distinct from t.expected_timezone
   or cast(t.local_time as date) <> {{ act_day() }}
   or extract(hour from t.local_time) < h.earliest_send_hour
   or t.local_time > {{ act_local_send('h.latest_send_hour') }}
