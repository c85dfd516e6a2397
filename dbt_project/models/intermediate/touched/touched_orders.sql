-- The orders an incremental build recomputes in int_orders and fct_orders
-- (macros/incremental.sql): orders with an order row or a line touched since the last build
-- (`changed`), and the orders of customers whose own row was touched (is_known_customer).
-- Empty in a full build, which recomputes everything anyway.
-- depends_on: {{ source('raw', 'orders') }}, {{ source('raw', 'order_items') }}, {{ source('raw', 'customers') }}
{% if incremental_vars_set() -%}
with touched as (
    select order_id, 1 as changed
    from ({{ touched_keys(source('raw', 'orders'), 'order_id', order_timestamps()) }}) as o
    union all
    select order_id, 1 as changed
    from ({{ touched_keys(source('raw', 'order_items'), 'order_id') }}) as i
    union all
    select order_id, 0 as changed
    from {{ ref('stg_shop__orders') }}
    where customer_id in (
        select customer_id
        from ({{ touched_keys(source('raw', 'customers'), 'customer_id', ['updated_at', 'created_at']) }}) as c
    )
)

select order_id, max(changed) = 1 as changed
from touched
where order_id is not null
group by order_id
{%- else -%}
select order_id, true as changed
from {{ ref('stg_shop__orders') }}
where 1 = 0
{%- endif %}
