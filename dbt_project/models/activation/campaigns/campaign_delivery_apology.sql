{{ config(materialized='ephemeral') }}
-- delivery_apology (service): an order of the customer whose delivery went wrong, seen the day
-- after (local dates of the reporting time zone):
-- - `late`: delivered yesterday more than delivery_apology_late_days days (default 2) after its
--   promised date;
-- - `slow`: delivered yesterday without a promised date, in more days from order to delivery than
--   the shop's delivery_apology_slow_percentile (default 0.9) quantile of delivery days (over every
--   delivered order known on the as-of date);
-- - `lost`: shipped, and still not delivered delivery_apology_lost_after_days days (default 10)
--   after the shipping day: the shipping day was that many days + 1 before the as-of date.
-- Test orders never get one. One message per customer and day, about the first such order (by
-- order time, then id; the context lists all of them); once per order (the key is its id).
with orders as (
    select
        o.order_id,
        o.customer_id,
        o.ordered_at,
        o.order_date,
        o.promised_delivery_date,
        o.delivered_date,
        o.delivery_days,
        o.days_late,
        cast({{ to_local('o.shipped_at') }} as date) as shipped_date,
        o.delivered_at
    from {{ ref('fct_orders') }} as o
    where o.customer_id is not null
      and coalesce(o.status, '') <> 'test'
),

slow_limit as (
    select
        percentile_cont({{ run_var('delivery_apology_slow_percentile', 0.9) | float }})
            within group (order by delivery_days) as delivery_days
    from orders
    where delivery_days is not null
),

failed as (
    select
        o.*,
        case
            when o.delivered_date = {{ act_day(-1) }} and o.promised_delivery_date is not null
                 and o.days_late > {{ run_var('delivery_apology_late_days', 2) | int }} then 'late'
            when o.delivered_date = {{ act_day(-1) }} and o.promised_delivery_date is null
                 and o.delivery_days > s.delivery_days then 'slow'
            when o.delivered_at is null
                 and o.shipped_date = {{ act_day(-1 - run_var('delivery_apology_lost_after_days', 10) | int) }}
                then 'lost'
        end as failure
    from orders as o
    cross join slow_limit as s
),

ranked as (
    select
        f.*,
        row_number() over (partition by f.customer_id order by f.ordered_at, f.order_id) as failure_rank
    from failed as f
    where f.failure is not null
),

per_customer as (
    select
        customer_id,
        count(*) as orders,
        {{ json_array_agg(json_string('order_id'), ['ordered_at', 'order_id']) }} as order_ids
    from ranked
    group by customer_id
)

select
    f.customer_id,
    'delivery_apology' as campaign,
    'delivery_apology:' || f.order_id as dedupe_key,
    {{ json_object([
        ('order_id', json_string('f.order_id')),
        ('order_date', json_string('f.order_date')),
        ('failure', json_string('f.failure')),
        ('promised_delivery_date', json_string('f.promised_delivery_date')),
        ('delivered_date', json_string('f.delivered_date')),
        ('shipped_date', json_string('f.shipped_date')),
        ('days_late', json_number('f.days_late')),
        ('orders', json_number('p.orders')),
        ('order_ids', 'p.order_ids'),
    ]) }} as context
from per_customer as p
join ranked as f
    on f.customer_id = p.customer_id
    and f.failure_rank = 1
