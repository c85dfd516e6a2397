-- One row per order line, with the order's customer, local date, status and valid-purchase flag:
-- the join of order lines with their orders, done once here for every model that counts what was
-- bought (occasion categories and price tiers, product quality, replenishment cycles, the
-- campaigns' purchases) instead of once in each of them. Products are joined by the readers: a
-- catalogue change then never leaves a stale category here.
-- Incremental by order, as int_orders: an incremental build recomputes the touched orders (an
-- order or one of its lines touched, or its customer's row), macros/incremental.sql.
{{ config(
    materialized=incremental_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('order_id', 'orders') }}",
) }}
-- depends_on: {{ ref('touched_orders') }}

select
    o.order_id,
    i.line_id,
    o.customer_id,
    o.order_date,
    o.ordered_at,
    o.status,
    o.is_valid_purchase,
    i.product_id,
    i.quantity,
    i.line_amount
from {{ ref('int_orders') }} as o
inner join {{ ref('stg_shop__order_items') }} as i on i.order_id = o.order_id
where 1 = 1
{{- only_recomputed('o.order_id', 'orders') }}
