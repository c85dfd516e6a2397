{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- Every candidate appears once (customer, campaign, dedupe key) for the as-of date, in exactly one
-- state with its reason; queued and held-out rows have a channel and send time, suppressed rows
-- have neither.
select customer_id, campaign, dedupe_key, 'listed twice' as problem
from {{ ref('campaign_candidates') }}
group by customer_id, campaign, dedupe_key
having count(*) > 1
union all
select customer_id, campaign, dedupe_key, 'state, reason or fields inconsistent' as problem
from {{ ref('campaign_candidates') }}
where not coalesce(
    (state = 'queued' and reason = 'eligible' and channel is not null
        and address is not null and send_at_utc is not null)
    or (state = 'holdout' and reason = 'control_group' and channel is not null
        and address is null and send_at_utc is not null)
    or (state = 'suppressed'
        and reason in ('unknown_customer', 'already_sent', 'cooldown', 'no_consent', 'no_address',
                       'frequency_cap', 'daily_volume', 'daily_marketing_limit')
        and channel is null and address is null and send_at_utc is null),
    false)
union all
select customer_id, campaign, dedupe_key, 'decided for another day' as problem
from {{ ref('campaign_candidates') }}
where as_of_date <> {{ act_day() }}
