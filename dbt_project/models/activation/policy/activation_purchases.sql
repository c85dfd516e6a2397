{{ config(materialized='ephemeral') }}
-- One row per line of a valid order, with its product's category ('uncategorized' without one):
-- what was bought, shared by replenishment, new_arrival, vip_early_access and the nudge.
select
    o.customer_id,
    o.order_id,
    o.order_date,
    o.ordered_at,
    i.product_id,
    p.product_name,
    coalesce(p.category, 'uncategorized') as category,
    coalesce(i.line_amount, 0) as line_amount
from {{ ref('fct_orders') }} as o
join {{ ref('stg_shop__order_items') }} as i on i.order_id = o.order_id
left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
where o.is_valid_purchase and o.customer_id is not null
