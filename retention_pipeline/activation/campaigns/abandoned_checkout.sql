-- abandoned_checkout (marketing): an existing customer started a checkout or added to cart
-- $abandoned_after_days days before the as-of date (default 1: yesterday, local date in the
-- reporting time zone) and has not ordered since. Existing = a valid purchase before the day's last
-- such event (a prospect's abandoned cart is not a retention message). "Since" is the day's last
-- checkout_started / add_to_cart: an order after it (valid or not: the customer did check out)
-- means the cart was not abandoned. Once per abandoned_checkout_repeat_days (default 14): every
-- candidate shares the key 'abandoned_checkout'.
with carts as (
    select
        e.customer_id,
        e.event_type,
        e.occurred_at,
        json_extract_string(e.properties, '$.product_id') as product_id
    from staging.stg_shop__events as e
    where e.customer_id is not null
      and e.event_type in ('checkout_started', 'add_to_cart')
      and cast(timezone($reporting_tz, timezone('UTC', e.occurred_at)) as date)
          = $as_of - $abandoned_after_days
),

last_cart as (
    select
        customer_id,
        max(occurred_at) as last_event_at,
        arg_max(event_type, occurred_at) as last_event_type,
        bool_or(event_type = 'checkout_started') as started_checkout,
        list(distinct product_id) filter (where product_id is not null) as product_ids
    from carts
    group by customer_id
),

existing as (
    select l.*
    from last_cart as l
    where exists (
        select 1 from marts.fct_orders as o
        where o.customer_id = l.customer_id
          and o.is_valid_purchase
          and o.ordered_at < l.last_event_at
    )
    and not exists (
        select 1 from marts.fct_orders as o
        where o.customer_id = l.customer_id
          and o.ordered_at >= l.last_event_at
    )
)

select
    x.customer_id,
    'abandoned_checkout' as campaign,
    'abandoned_checkout' as dedupe_key,
    json_object(
        'event_date', $as_of - $abandoned_after_days,
        'last_event_type', x.last_event_type,
        'started_checkout', x.started_checkout,
        'product_ids', coalesce(list_sort(x.product_ids), []),
        'last_order_date', d.last_occasion_date
    )::varchar as context
from existing as x
left join marts.dim_customers as d on d.customer_id = x.customer_id
