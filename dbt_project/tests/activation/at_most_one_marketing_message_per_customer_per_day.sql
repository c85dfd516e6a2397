{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- No customer has more than one queued marketing message on the as-of date.
select
    customer_id,
    count(*) as marketing_messages,
    {{ ordered_text_agg('campaign', ['campaign']) }} as campaigns
from {{ ref('campaign_candidates') }}
where state = 'queued' and campaign in {{ act_in(marketing_campaigns()) }}
group by customer_id
having count(*) > 1
