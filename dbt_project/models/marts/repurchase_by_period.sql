-- Repeat purchase and returning-customer rates per calendar period (docs/metrics.md#repeat-purchase-rate): one row per
-- granularity ('day', 'week', 'month') and period, from the period of the first occasion in the
-- data to the period holding the as-of date, zeros included.
with activity as (
    select * from {{ ref('int_customer_period_activity') }}
),

bounds as (
    select
        granularity,
        min(period_start) as first_period_start,
        {{ periods_between_of('granularity', 'min(period_start)',
                              period_start_of('granularity', as_of_date())) }} as max_period_offset
    from activity
    group by granularity
),

spine as (
    select
        b.granularity,
        {{ add_periods_of('b.granularity', 's.n', 'b.first_period_start') }} as period_start
    from bounds as b
    inner join ({{ integer_series('select max(max_period_offset) from bounds') }}) as s
        on s.n <= b.max_period_offset
),

cells as (
    select
        granularity,
        period_start,
        count(*) as purchasers,
        cast(sum(case when occasions >= 2 then 1 else 0 end) as bigint) as repeat_purchasers,
        cast(sum(case when cohort_start = period_start then 1 else 0 end) as bigint) as new_customers,
        cast(sum(case when cohort_start < period_start then 1 else 0 end) as bigint) as returning_customers,
        cast(sum(occasions) as bigint) as occasions,
        cast(sum(orders) as bigint) as orders,
        sum(net_revenue) as net_revenue
    from activity
    group by granularity, period_start
)

select
    s.granularity as period_granularity,
    s.period_start,
    {{ period_end_of('s.granularity', 's.period_start') }} as period_end,
    coalesce(c.purchasers, 0) as purchasers,
    coalesce(c.repeat_purchasers, 0) as repeat_purchasers,
    {{ share('c.repeat_purchasers', 'c.purchasers') }} as repeat_purchase_rate,
    coalesce(c.new_customers, 0) as new_customers,
    coalesce(c.returning_customers, 0) as returning_customers,
    {{ share('c.returning_customers', 'c.purchasers') }} as returning_customer_rate,
    coalesce(c.occasions, 0) as occasions,
    coalesce(c.orders, 0) as orders,
    coalesce(c.net_revenue, 0) as net_revenue,
    {{ period_end_of('s.granularity', 's.period_start') }} <= {{ as_of_date() }} as is_complete
from spine as s
left join cells as c
    on c.granularity = s.granularity
    and c.period_start = s.period_start
