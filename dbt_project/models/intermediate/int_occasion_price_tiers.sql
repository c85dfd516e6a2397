-- One row per purchase occasion with a priced product: the occasion's price tier is the highest
-- tier among the products of its valid orders (a basket with one premium item is a step up).
-- Empty when the shop sends no items or no prices.
select
    i.customer_id,
    i.order_date as occasion_date,
    max(t.price_tier) as price_tier
from {{ ref('int_order_lines') }} as i
inner join {{ ref('int_product_price_tiers') }} as t on t.product_id = i.product_id
where i.is_valid_purchase
group by i.customer_id, i.order_date
