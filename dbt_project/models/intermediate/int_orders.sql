-- One row per order (valid or not) with its local date and the valid-purchase rule
-- (docs/metrics.md#valid-purchase).
-- Every mart counts purchases from here (through int_purchase_occasions), never from staging.
-- Incremental by order: an incremental build recomputes the touched orders (macros/incremental.sql).
{{ config(
    materialized=incremental_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('order_id', 'orders') }}",
) }}
-- depends_on: {{ ref('touched_orders') }}

with orders as (
    select
        o.*,
        {{ to_local('o.ordered_at') }} as ordered_at_local,
        -- a `refunded` status without an amount is a full refund
        coalesce(
            o.refunded_amount,
            case when o.status = 'refunded' then o.total_amount end
        ) as effective_refunded_amount
    from {{ ref('stg_shop__orders') }} as o
    where 1 = 1
    {{- only_recomputed('o.order_id', 'orders') }}
),

classified as (
    select
        orders.*,
        total_amount - coalesce(refunded_amount, 0) as net_amount,
        case
            when customer_id is null then 'guest'
            -- neither the contract's nor mapped in seeds/order_status_map.csv: not a purchase
            -- until the shop maps it (the unknown_order_statuses check names it)
            when not is_known_status then 'unknown_status'
            when status = 'test' then 'test'
            when status = 'cancelled' then 'cancelled'
            when total_amount > 0 and effective_refunded_amount >= total_amount then 'fully_refunded'
            when total_amount - coalesce(refunded_amount, 0) < {{ min_order_value() }}
                then 'below_min_order_value'
        end as invalid_reason
    from orders
)

select
    c.order_id,
    c.customer_id,
    c.ordered_at,
    c.ordered_at_local,
    cast(c.ordered_at_local as date) as order_date,
    c.status,
    c.shop_status,
    c.currency,
    c.total_amount,
    c.discount_amount,
    c.refunded_amount,
    c.net_amount,
    c.coupon_code,
    c.coupon_code is not null or c.discount_amount > 0 as used_coupon,
    c.channel,
    c.shipped_at,
    c.delivered_at,
    cast({{ to_local('c.delivered_at') }} as date) as delivered_date,
    c.promised_delivery_date,
    -- whole local days from order to delivery; days late against the promised day (0 or less =
    -- on time; null when either is missing)
    {{ dbt.datediff('cast(c.ordered_at_local as date)',
                    "cast(" ~ to_local('c.delivered_at') ~ " as date)", 'day') }} as delivery_days,
    {{ dbt.datediff('c.promised_delivery_date',
                    "cast(" ~ to_local('c.delivered_at') ~ " as date)", 'day') }} as days_late,
    c.invalid_reason is null as is_valid_purchase,
    c.invalid_reason,
    c.customer_id is null or cust.customer_id is not null as is_known_customer
from classified as c
left join {{ ref('stg_shop__customers') }} as cust
    on c.customer_id = cust.customer_id
