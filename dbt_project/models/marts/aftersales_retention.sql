-- After-sales service and repurchase (docs/metrics.md#marts): customers by how fast their first support ticket
-- after the first purchase occasion got a first response (see int_customer_aftersales for which
-- ticket counts), and their repurchase within 90 days. One row per bucket, all four always
-- present; empty when the shop sends no events.
with buckets as (
    select '< 1 h' as first_response_bucket, 1 as bucket_order
    union all select '1–24 h', 2
    union all select '> 24 h', 3
    union all select 'no ticket', 4
),

customers as (
    select
        a.first_response_bucket,
        a.first_response_minutes,
        case when a.first_ticket_resolved then 1 else 0 end as ticket_resolved,
        case when {{ is_matured('c.first_occasion_date', 90) }} then 1 else 0 end as is_matured,
        case
            when {{ is_matured('c.first_occasion_date', 90) }}
                and {{ repurchased_within('c.days_to_second_occasion', 90) }}
            then 1 else 0
        end as has_repurchased
    from {{ ref('int_customer_aftersales') }} as a
    inner join {{ ref('int_customer_purchases') }} as c on c.customer_id = a.customer_id
),

per_bucket as (
    select
        first_response_bucket,
        count(*) as customers,
        cast(sum(is_matured) as bigint) as matured_customers_90d,
        cast(sum(has_repurchased) as bigint) as repurchased_customers_90d,
        avg(first_response_minutes) as avg_first_response_minutes,
        cast(sum(ticket_resolved) as bigint) as resolved_tickets
    from customers
    group by first_response_bucket
)

select
    b.first_response_bucket,
    b.bucket_order,
    coalesce(p.customers, 0) as customers,
    coalesce(p.matured_customers_90d, 0) as matured_customers_90d,
    coalesce(p.repurchased_customers_90d, 0) as repurchased_customers_90d,
    {{ share('p.repurchased_customers_90d', 'p.matured_customers_90d') }} as repurchase_rate_90d,
    p.avg_first_response_minutes,
    case when b.first_response_bucket <> 'no ticket' then
        {{ share('p.resolved_tickets', 'p.customers') }}
    end as resolved_share
from buckets as b
left join per_bucket as p on p.first_response_bucket = b.first_response_bucket
-- an empty events feed says nothing about service: no rows rather than everyone in 'no ticket'
where exists (select 1 from {{ ref('stg_shop__events') }})
