-- Purchase occasions (docs/metrics.md#purchase-occasion): all valid orders of one customer on one local date.
-- Every repurchase metric counts these, not orders.
-- Incremental by customer: an incremental build recomputes every occasion of the touched
-- customers (macros/incremental.sql).
{{ config(
    materialized=incremental_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('customer_id', 'customers') }}",
) }}
-- depends_on: {{ ref('touched_customers') }}

with valid_orders as (
    select
        customer_id,
        order_date,
        order_id,
        ordered_at,
        net_amount,
        used_coupon,
        channel,
        -- the occasion's first order (its earliest, then the smallest id)
        row_number() over (
            partition by customer_id, order_date order by ordered_at, order_id
        ) as order_rank
    from {{ ref('int_orders') }}
    where is_valid_purchase
    {{- only_recomputed('customer_id', 'customers') }}
),

occasions as (
    select
        customer_id,
        order_date as occasion_date,
        count(*) as orders,
        sum(net_amount) as net_amount,
        min(ordered_at) as first_ordered_at,
        max(case when used_coupon then 1 else 0 end) = 1 as used_coupon,
        max(case when order_rank = 1 then order_id end) as first_order_id,
        max(case when order_rank = 1 then channel end) as first_order_channel
    from valid_orders
    group by customer_id, order_date
),

sequenced as (
    select
        occasions.*,
        row_number() over (partition by customer_id order by occasion_date) as occasion_seq,
        min(occasion_date) over (partition by customer_id) as first_occasion_date,
        lag(occasion_date) over (partition by customer_id order by occasion_date)
            as previous_occasion_date
    from occasions
)

select
    customer_id,
    occasion_date,
    occasion_seq,
    orders,
    net_amount,
    used_coupon,
    first_ordered_at,
    first_order_id,
    first_order_channel,
    first_occasion_date,
    previous_occasion_date,
    {{ dbt.datediff('previous_occasion_date', 'occasion_date', 'day') }} as days_since_previous
from sequenced
