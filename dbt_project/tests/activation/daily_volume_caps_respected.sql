{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- No campaign sends or holds out more candidates on the as-of date than its seed's daily_volume_cap.
select c.campaign, s.daily_volume_cap, count(*) as sent_or_held_out
from {{ ref('campaign_candidates') }} as c
join {{ ref('contact_policy_campaigns') }} as s
    on s.campaign = c.campaign
    and s.preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
where c.state in ('queued', 'holdout') and s.daily_volume_cap is not null
group by c.campaign, s.daily_volume_cap
having count(*) > s.daily_volume_cap
