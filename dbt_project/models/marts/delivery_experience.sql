-- Delivery and repurchase (docs/metrics.md#delivery-experience): customers by how their first
-- order (the earliest valid order of the first occasion) was delivered against the promised
-- day, and their repurchase within each window (maturity as in repurchase_by_cohort). One row per
-- bucket and window, all five buckets always present.
with buckets as (
    select 'on time' as delivery_bucket, 1 as bucket_order
    union all select '1–2 days late', 2
    union all select '> 2 days late', 3
    union all select 'not delivered', 4
    union all select 'unknown', 5
),

customers as (
    select
        c.customer_id,
        c.first_occasion_date,
        c.days_to_second_occasion,
        o.delivery_days,
        case
            -- the promised day is over and nothing arrived by the end of the as-of day
            when o.delivered_at is null and o.promised_delivery_date < {{ as_of_date() }}
                then 'not delivered'
            -- no promise, or still on its way: lateness cannot be judged
            when o.days_late is null then 'unknown'
            when o.days_late <= 0 then 'on time'
            when o.days_late <= 2 then '1–2 days late'
            else '> 2 days late'
        end as delivery_bucket
    from {{ ref('int_customer_purchases') }} as c
    inner join {{ ref('int_orders') }} as o on o.order_id = c.first_order_id
),

per_bucket as (
    select
        delivery_bucket,
        count(*) as customers,
        percentile_cont(0.5) within group (order by delivery_days) as median_delivery_days
    from customers
    group by delivery_bucket
),

flagged as (
    select
        c.delivery_bucket,
        w.window_days,
        case when {{ is_matured('c.first_occasion_date', 'w.window_days') }} then 1 else 0 end
            as is_matured,
        case
            when {{ is_matured('c.first_occasion_date', 'w.window_days') }}
                and {{ repurchased_within('c.days_to_second_occasion', 'w.window_days') }}
            then 1 else 0
        end as has_repurchased
    from customers as c
    cross join ({{ repurchase_windows_relation() }}) as w
),

per_window as (
    select
        delivery_bucket,
        window_days,
        cast(sum(is_matured) as bigint) as matured_customers,
        cast(sum(has_repurchased) as bigint) as repurchased_customers
    from flagged
    group by delivery_bucket, window_days
)

select
    b.delivery_bucket,
    b.bucket_order,
    w.window_days,
    coalesce(p.customers, 0) as customers,
    coalesce(pw.matured_customers, 0) as matured_customers,
    coalesce(pw.repurchased_customers, 0) as repurchased_customers,
    {{ share('pw.repurchased_customers', 'pw.matured_customers') }} as repurchase_rate,
    p.median_delivery_days
from buckets as b
cross join ({{ repurchase_windows_relation() }}) as w
left join per_bucket as p on p.delivery_bucket = b.delivery_bucket
left join per_window as pw
    on pw.delivery_bucket = b.delivery_bucket and pw.window_days = w.window_days
