-- One row per purchase occasion with a priced product: the occasion's price tier is the highest
-- tier among the products of its valid orders (a basket with one premium item is a step up).
-- Empty when the shop sends no items or no prices.
select
    o.customer_id,
    o.order_date as occasion_date,
    max(t.price_tier) as price_tier
from {{ ref('int_orders') }} as o
inner join {{ ref('stg_shop__order_items') }} as i on i.order_id = o.order_id
inner join {{ ref('int_product_price_tiers') }} as t on t.product_id = i.product_id
where o.is_valid_purchase
group by o.customer_id, o.order_date
