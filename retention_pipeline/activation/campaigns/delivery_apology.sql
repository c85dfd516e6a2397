-- delivery_apology (service): an order of the customer whose delivery went wrong, seen the day
-- after (local dates of the reporting time zone):
-- - `late`: delivered yesterday more than $late_days days (default 2) after its promised date;
-- - `slow`: delivered yesterday without a promised date, in more days from order to delivery than
--   the shop's $slow_percentile (default 0.9) quantile of delivery days (over every delivered
--   order known on the as-of date);
-- - `lost`: shipped, and still not delivered $lost_after_days days (default 10) after the shipping
--   day: the shipping day was $lost_after_days + 1 days before the as-of date.
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
        cast(timezone($reporting_tz, timezone('UTC', o.shipped_at)) as date) as shipped_date,
        o.delivered_at
    from marts.fct_orders as o
    where o.customer_id is not null
      and coalesce(o.status, '') <> 'test'
),

slow_limit as (
    select quantile_cont(delivery_days, $slow_percentile) as delivery_days
    from orders
    where delivery_days is not null
),

failed as (
    select
        o.*,
        case
            when o.delivered_date = $as_of - 1 and o.promised_delivery_date is not null
                 and o.days_late > $late_days then 'late'
            when o.delivered_date = $as_of - 1 and o.promised_delivery_date is null
                 and o.delivery_days > (select delivery_days from slow_limit) then 'slow'
            when o.delivered_at is null and o.shipped_date = $as_of - 1 - $lost_after_days
                then 'lost'
        end as failure
    from orders as o
),

per_customer as (
    select customer_id, list(order_id order by ordered_at, order_id) as order_ids
    from failed
    where failure is not null
    group by customer_id
)

select
    f.customer_id,
    'delivery_apology' as campaign,
    'delivery_apology:' || f.order_id as dedupe_key,
    json_object(
        'order_id', f.order_id,
        'order_date', f.order_date,
        'failure', f.failure,
        'promised_delivery_date', f.promised_delivery_date,
        'delivered_date', f.delivered_date,
        'shipped_date', f.shipped_date,
        'days_late', f.days_late,
        'orders', len(p.order_ids),
        'order_ids', p.order_ids
    )::varchar as context
from per_customer as p
join failed as f
    on f.customer_id = p.customer_id
    and f.order_id = p.order_ids[1]
