{{ config(materialized='ephemeral') }}
-- first_purchase_thanks (service): the customer's first purchase occasion was thanks_after_days
-- days before the as-of date (default 1: yesterday). Once per customer: a first order cancelled
-- later moves the first occasion, but the customer is thanked only once.
with new_customers as (
    select customer_id, first_occasion_date
    from {{ ref('dim_customers') }}
    where first_occasion_date = {{ act_day(-run_var('thanks_after_days', 1)) }}
),

ranked_orders as (
    -- the first valid order of that day names the order in the message
    select
        o.customer_id, o.order_id, o.net_amount,
        row_number() over (partition by o.customer_id order by o.ordered_at, o.order_id) as order_rank
    from {{ ref('fct_orders') }} as o
    join new_customers as n
        on n.customer_id = o.customer_id
        and o.order_date = n.first_occasion_date
    where o.is_valid_purchase
)

select
    n.customer_id,
    'first_purchase_thanks' as campaign,
    'first_purchase_thanks' as dedupe_key,
    {{ json_object([
        ('order_id', json_string('f.order_id')),
        ('order_date', json_string('n.first_occasion_date')),
        ('order_amount', json_amount('f.net_amount')),
    ]) }} as context
from new_customers as n
left join ranked_orders as f on f.customer_id = n.customer_id and f.order_rank = 1
