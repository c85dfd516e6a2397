-- The customers whose rows of int_customer_product_sales (product_quality's per-customer sales)
-- an incremental build recomputes (macros/incremental.sql), besides the guests' rows, which are
-- recomputed in every build:
-- - touched_customers (their orders, lines or bought products changed);
-- - the buyers of orders that a return or complaint touched since the last build names (an event
--   about an order that did not change);
-- - the customers whose first occasion matured for the 90-day repurchase since the last build's
--   as-of date (first_buyers_matured_90d counts them from this day on).
-- Empty in a full build.
-- depends_on: {{ ref('touched_customers') }}, {{ source('raw', 'events') }}, {{ ref('int_aftersales_events') }}, {{ ref('int_orders') }}, {{ ref('int_customer_purchases') }}
{% if incremental_vars_set() -%}
select customer_id
from (
    select customer_id
    from {{ ref('touched_customers') }}
    union
    select o.customer_id
    from {{ ref('int_aftersales_events') }} as e
    inner join {{ ref('int_orders') }} as o on o.order_id = e.order_id
    where e.event_type in ('return_requested', 'complaint')
      and e.event_id in ({{ touched_keys(source('raw', 'events'), 'event_id', ['occurred_at']) }})
    union
    select customer_id
    from {{ ref('int_customer_purchases') }}
    where {{ add_days(product_quality_window_days(), 'first_occasion_date') }}
            > cast('{{ run_var("incremental_since_as_of") }}' as date)
      and {{ is_matured('first_occasion_date', product_quality_window_days()) }}
) as touched
where customer_id is not null
{%- else -%}
select customer_id
from {{ ref('int_customer_purchases') }}
where 1 = 0
{%- endif %}
