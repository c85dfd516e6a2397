{{ config(materialized='ephemeral') }}
-- abandoned_checkout (marketing): an existing customer started a checkout or added to cart
-- abandoned_checkout_after_days days before the as-of date (default 1: yesterday, local date in
-- the reporting time zone) and has not ordered since. Existing = a valid purchase before the day's
-- last such event (a prospect's abandoned cart is not a retention message). "Since" is the day's
-- last checkout_started / add_to_cart: an order after it (valid or not: the customer did check
-- out) means the cart was not abandoned. Once per abandoned_checkout_repeat_days (default 14):
-- every candidate shares the key 'abandoned_checkout'.
{%- set event_day = act_day(-run_var('abandoned_checkout_after_days', 1)) %}
with carts as (
    select
        e.customer_id,
        e.event_type,
        e.occurred_at,
        {{ json_text('e.properties', 'product_id') }} as product_id,
        row_number() over (
            partition by e.customer_id order by e.occurred_at desc, e.event_type
        ) as recency_rank
    from {{ ref('stg_shop__events') }} as e
    where e.customer_id is not null
      and e.event_type in ('checkout_started', 'add_to_cart')
      and {{ near_local_days('e.occurred_at', -run_var('abandoned_checkout_after_days', 1)) }}
      and cast({{ to_local('e.occurred_at') }} as date) = {{ event_day }}
),

last_cart as (
    select
        customer_id,
        max(occurred_at) as last_event_at,
        max(case when recency_rank = 1 then event_type end) as last_event_type,
        max(case when event_type = 'checkout_started' then 1 else 0 end) = 1 as started_checkout
    from carts
    group by customer_id
),

products as (
    select
        customer_id,
        {{ json_array_agg(json_string('product_id'), ['product_id']) }} as product_ids
    from (select distinct customer_id, product_id from carts where product_id is not null) as p
    group by customer_id
),

earlier_purchase as (
    select distinct l.customer_id
    from last_cart as l
    join {{ ref('fct_orders') }} as o
        on o.customer_id = l.customer_id
        and o.is_valid_purchase
        and o.ordered_at < l.last_event_at
),

ordered_since as (
    select distinct l.customer_id
    from last_cart as l
    join {{ ref('fct_orders') }} as o
        on o.customer_id = l.customer_id
        and o.ordered_at >= l.last_event_at
)

select
    x.customer_id,
    'abandoned_checkout' as campaign,
    'abandoned_checkout' as dedupe_key,
    {{ json_object([
        ('event_date', json_string(event_day)),
        ('last_event_type', json_string('x.last_event_type')),
        ('started_checkout', json_bool('x.started_checkout')),
        ('product_ids', "coalesce(p.product_ids, '[]')"),
        ('last_order_date', json_string('d.last_occasion_date')),
    ]) }} as context
from last_cart as x
join earlier_purchase as b on b.customer_id = x.customer_id
left join ordered_since as s on s.customer_id = x.customer_id
left join products as p on p.customer_id = x.customer_id
left join {{ ref('dim_customers') }} as d on d.customer_id = x.customer_id
where s.customer_id is null
