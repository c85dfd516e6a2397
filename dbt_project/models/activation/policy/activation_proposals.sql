{{ config(materialized='ephemeral') }}
-- Today's proposals of the enabled campaigns (one rule per model in campaigns/), with the campaign's
-- repeat window (null: the same key never repeats) and an integer id for the policy's joins.
{%- set rules = ['first_purchase_thanks', 'second_purchase_nudge', 'replenishment', 'birthday',
                 'vip_early_access', 'new_arrival', 'after_sales_followup', 'win_back',
                 'surprise_reward', 'abandoned_checkout', 'delivery_apology'] %}
with proposed as (
    {%- for rule in rules %}
    select customer_id, campaign, dedupe_key, context from {{ ref('campaign_' ~ rule) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    row_number() over (order by p.campaign, p.customer_id, p.dedupe_key) as candidate_id,
    p.customer_id,
    p.campaign,
    p.dedupe_key,
    p.context,
    {{ campaign_repeat_days_sql('p.campaign') }} as repeat_after_days
from proposed as p
where p.customer_id is not null
  and p.campaign in (select campaign from {{ ref('activation_policy_campaigns') }})
