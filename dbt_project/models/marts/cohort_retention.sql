-- Cohort retention (docs/metrics.md#period-index): one row per cohort granularity, cohort and period index, for every
-- index from 0 up to the period holding the as-of date, zeros included.
{%- set granularities = ['week', 'month'] %}

with members as (
    -- each customer with an occasion is in exactly one cohort per granularity
    {%- for g in granularities %}
    select
        '{{ g }}' as cohort_granularity,
        customer_id,
        {{ period_start(g, 'first_occasion_date') }} as cohort_start,
        {{ periods_between(g, period_start(g, 'first_occasion_date'), period_start(g, 'last_occasion_date')) }}
            as last_period_index
    from {{ ref('int_customer_purchases') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

cohorts as (
    select
        cohort_granularity,
        cohort_start,
        count(*) as cohort_size,
        {{ periods_between_of('cohort_granularity', 'cohort_start',
                              period_start_of('cohort_granularity', as_of_date())) }}
            as max_period_index
    from members
    group by cohort_granularity, cohort_start
),

spine as (
    select
        c.cohort_granularity,
        c.cohort_start,
        c.cohort_size,
        s.n as period_index
    from cohorts as c
    inner join ({{ integer_series('select max(max_period_index) from cohorts') }}) as s
        on s.n <= c.max_period_index
),

cells as (
    select
        granularity as cohort_granularity,
        cohort_start,
        period_index,
        count(*) as active_customers,
        cast(sum(case when occasions >= 2 then 1 else 0 end) as bigint) as multi_occasion_customers,
        cast(sum(orders) as bigint) as orders,
        sum(net_revenue) as net_revenue
    from {{ ref('int_customer_period_activity') }}
    where granularity in ('week', 'month')
    group by granularity, cohort_start, period_index
),

-- a customer whose last occasion is in period j was active in some period >= k for every k <= j
last_activity as (
    select cohort_granularity, cohort_start, last_period_index, count(*) as customers
    from members
    group by cohort_granularity, cohort_start, last_period_index
),

filled as (
    select
        s.cohort_granularity,
        s.cohort_start,
        s.period_index,
        s.cohort_size,
        coalesce(c.active_customers, 0) as active_customers,
        coalesce(c.multi_occasion_customers, 0) as multi_occasion_customers,
        coalesce(c.orders, 0) as orders,
        coalesce(c.net_revenue, 0) as net_revenue,
        cast(sum(coalesce(l.customers, 0)) over (
            partition by s.cohort_granularity, s.cohort_start
            order by s.period_index desc
            rows between unbounded preceding and current row
        ) as bigint) as on_or_after_customers
    from spine as s
    left join cells as c
        on c.cohort_granularity = s.cohort_granularity
        and c.cohort_start = s.cohort_start
        and c.period_index = s.period_index
    left join last_activity as l
        on l.cohort_granularity = s.cohort_granularity
        and l.cohort_start = s.cohort_start
        and l.last_period_index = s.period_index
)

select
    cohort_granularity,
    cohort_start,
    period_index,
    {{ add_periods_of('cohort_granularity', 'period_index', 'cohort_start') }} as period_start,
    cohort_size,
    active_customers,
    case when period_index = 0 then multi_occasion_customers else active_customers end
        as repeat_customers,
    {{ share('active_customers', 'cohort_size') }} as retention_rate,
    on_or_after_customers,
    {{ share('on_or_after_customers', 'cohort_size') }} as on_or_after_rate,
    orders,
    net_revenue,
    {{ period_end_of('cohort_granularity',
                     add_periods_of('cohort_granularity', 'period_index', 'cohort_start')) }}
        <= {{ as_of_date() }} as is_complete
from filled
