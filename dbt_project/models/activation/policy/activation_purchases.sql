{{ config(materialized='ephemeral') }}
-- One row per line of a valid order, with its product's category ('uncategorized' without one):
-- what was bought, shared by replenishment, new_arrival, vip_early_access and the nudge. No product
-- name: the query holds these rows (14 M at a million customers) for its four readers, and only
-- replenishment shows a name, of one product per candidate.
select
    i.customer_id,
    i.order_id,
    i.order_date,
    i.ordered_at,
    i.product_id,
    coalesce(p.category, 'uncategorized') as category,
    coalesce(i.line_amount, 0) as line_amount
from {{ ref('int_order_lines') }} as i
left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
where i.is_valid_purchase and i.customer_id is not null
