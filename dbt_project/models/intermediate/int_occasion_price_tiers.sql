-- One row per purchase occasion with a priced product: the occasion's price tier is the highest
-- tier among the products of its valid orders (a basket with one premium item is a step up).
-- Empty when the shop sends no items or no prices.
-- Incremental by customer: an incremental build recomputes the customers of
-- touched_price_tier_buyers (macros/incremental.sql), the touched customers and the buyers of
-- categories whose prices moved.
{{ config(
    materialized=incremental_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('customer_id', 'price_tier_buyers') }}",
) }}
-- depends_on: {{ ref('touched_price_tier_buyers') }}
select
    i.customer_id,
    i.order_date as occasion_date,
    max(t.price_tier) as price_tier
from {{ ref('int_order_lines') }} as i
inner join {{ ref('int_product_price_tiers') }} as t on t.product_id = i.product_id
where i.is_valid_purchase
{{- only_recomputed('i.customer_id', 'price_tier_buyers') }}
group by i.customer_id, i.order_date
