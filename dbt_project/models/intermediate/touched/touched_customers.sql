-- The customers whose purchase occasions an incremental build recomputes (int_purchase_occasions
-- and the models by customer, macros/incremental.sql): every customer that any visible version of
-- a changed order names (an order that moved from one customer to another touches both), and the
-- buyers of products whose row was touched (their occasions' categories). Empty in a full build.
-- depends_on: {{ source('raw', 'orders') }}, {{ source('raw', 'products') }}, {{ ref('touched_orders') }}, {{ ref('stg_shop__order_items') }}
{% if incremental_vars_set() -%}
select customer_id
from (
    select nullif(trim(customer_id), '') as customer_id
    from {{ source('raw', 'orders') }}
    where {{ visible_batch(source('raw', 'orders')) }}
      and order_id in (select order_id from {{ ref('touched_orders') }} where changed)
    union
    select o.customer_id
    from {{ ref('stg_shop__orders') }} as o
    inner join {{ ref('stg_shop__order_items') }} as i on i.order_id = o.order_id
    where i.product_id in (
        -- every version counts, as in stg_shop__products (products are not cut by batch)
        select product_id
        from {{ source('raw', 'products') }}
        where {{ touched_row(['updated_at']) }}
    )
) as touched
where customer_id is not null
{%- else -%}
select customer_id
from {{ ref('stg_shop__orders') }}
where 1 = 0
{%- endif %}
