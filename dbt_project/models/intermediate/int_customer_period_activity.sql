-- One row per granularity ('day', 'week', 'month'), customer and calendar period with at least
-- one purchase occasion: the cells that cohort_retention and repurchase_by_period count.
-- cohort_start is the period of the customer's first occasion; period_index the whole periods
-- from it (0 = the acquisition period). Incremental by customer (macros/incremental.sql).
{{ config(
    materialized=incremental_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('customer_id', 'customers') }}",
) }}
-- depends_on: {{ ref('touched_customers') }}

with occasions as (
    select customer_id, occasion_date, first_occasion_date, orders, net_amount
    from {{ ref('int_purchase_occasions') }}
    where 1 = 1
    {{- only_recomputed('customer_id', 'customers') }}
),

per_period as (
    {%- for g in ['day', 'week', 'month'] %}
    select
        '{{ g }}' as granularity,
        customer_id,
        {{ period_start(g, 'first_occasion_date') }} as cohort_start,
        {{ period_start(g, 'occasion_date') }} as period_start,
        count(*) as occasions,
        cast(sum(orders) as bigint) as orders,
        sum(net_amount) as net_revenue
    from occasions
    group by customer_id, {{ period_start(g, 'first_occasion_date') }}, {{ period_start(g, 'occasion_date') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    granularity,
    customer_id,
    cohort_start,
    period_start,
    {{ periods_between_of('granularity', 'cohort_start', 'period_start') }} as period_index,
    occasions,
    orders,
    net_revenue
from per_period
