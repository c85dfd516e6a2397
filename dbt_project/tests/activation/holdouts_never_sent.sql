{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- The control group (md5 of customer and campaign below the campaign's control share) is never
-- queued, and only it is held out.
with shares as (
    select campaign, coalesce(control_share, {{ run_var('control_share', 0.1) | float }}) as control_share
    from {{ ref('contact_policy_campaigns') }}
    where preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
)

select c.customer_id, c.campaign, c.state
from {{ ref('campaign_candidates') }} as c
join shares as s on s.campaign = c.campaign
where c.state in ('queued', 'holdout')
  and (case when c.state = 'holdout' then 1 else 0 end)
      <> (case when {{ md5_bucket("c.customer_id || '|' || c.campaign") }} < s.control_share then 1 else 0 end)
