-- What product_quality adds up, per customer: one row per level ('product' or 'category'),
-- customer (null = all guests together) and product or category the customer bought in a sold
-- order (placed, not cancelled, not test; the first occasion's orders are among them). Counts are over the
-- customer's sold orders; the first-buyer flags are 0/1. A return or complaint marks an order's
-- line when it is about the order (int_aftersales_events.order_id) and names the line's product or
-- no product. Empty without order items.
-- Incremental by customer: an incremental build recomputes the customers of touched_product_buyers
-- and the guests (macros/incremental.sql), so that product_quality sums this table instead of
-- counting distinct orders and customers over every line of the history each day.
{{ config(
    materialized=incremental_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed_where(recomputed_product_buyers()) }}",
) }}
-- depends_on: {{ ref('touched_product_buyers') }}
{%- set window = product_quality_window_days() %}

with sold_lines as (
    select
        i.order_id,
        i.customer_id,
        i.product_id,
        coalesce(p.category, 'uncategorized') as category,
        i.quantity,
        i.order_date,
        i.is_valid_purchase
    from {{ ref('int_order_lines') }} as i
    left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
    where i.status not in ('cancelled', 'test')
    {%- if recomputes_touched() %}
      and {{ recomputed_product_buyers('i.') }}
    {%- endif %}
),

-- flags per order and product named by the events; product_id null = about the whole order
problem_flags as (
    select
        order_id,
        product_id,
        max(case when event_type = 'return_requested' then 1 else 0 end) as was_returned,
        max(case when event_type = 'complaint' then 1 else 0 end) as had_complaint
    from {{ ref('int_aftersales_events') }}
    where event_type in ('return_requested', 'complaint')
      and order_id is not null
      {%- if recomputes_touched() %}
      and order_id in (select order_id from sold_lines)
      {%- endif %}
    group by order_id, product_id
),

order_lines as (
    select
        order_id,
        product_id,
        max(customer_id) as customer_id,
        max(category) as category,
        cast(sum(quantity) as bigint) as units
    from sold_lines
    group by order_id, product_id
),

-- one row per order and product, flagged by events about the product or the whole order
order_product as (
    select
        l.order_id,
        l.product_id,
        l.customer_id,
        l.category,
        l.units,
        greatest(coalesce(by_product.was_returned, 0), coalesce(by_order.was_returned, 0))
            as was_returned,
        greatest(coalesce(by_product.had_complaint, 0), coalesce(by_order.had_complaint, 0))
            as had_complaint
    from order_lines as l
    left join problem_flags as by_product
        on by_product.order_id = l.order_id
        and by_product.product_id = l.product_id
    left join problem_flags as by_order
        on by_order.order_id = l.order_id
        and by_order.product_id is null
),

order_category as (
    select
        order_id,
        category,
        max(customer_id) as customer_id,
        cast(sum(units) as bigint) as units,
        max(was_returned) as was_returned,
        max(had_complaint) as had_complaint
    from order_product
    group by order_id, category
),

-- what each customer's first purchase occasion contained, with the repurchase outcome (its
-- valid orders are sold orders, so their lines are among sold_lines)
first_occasion_products as (
    select distinct
        c.customer_id,
        l.product_id,
        l.category,
        case when {{ is_matured('c.first_occasion_date', window) }} then 1 else 0 end as is_matured,
        case
            when {{ is_matured('c.first_occasion_date', window) }}
                and {{ repurchased_within('c.days_to_second_occasion', window) }}
            then 1 else 0
        end as has_repurchased
    from {{ ref('int_customer_purchases') }} as c
    inner join sold_lines as l
        on l.customer_id = c.customer_id
        and l.order_date = c.first_occasion_date
        and l.is_valid_purchase
),

{%- for level, key in [('product', 'product_id'), ('category', 'category')] %}

{{ level }}_sales as (
    select
        customer_id,
        {{ key }} as item,
        count(*) as orders,
        cast(sum(units) as bigint) as units,
        cast(sum(was_returned) as bigint) as returned_orders,
        cast(sum(had_complaint) as bigint) as complained_orders
    from order_{{ level }}
    group by customer_id, {{ key }}
),

{{ level }}_first_buyers as (
    select distinct customer_id, {{ key }} as item, is_matured, has_repurchased
    from first_occasion_products
),
{%- endfor %}

unioned as (
    {%- for level in ['product', 'category'] %}
    -- every first buyer has a sales row (first_occasion_products comes from sold_lines)
    select
        '{{ level }}' as quality_level,
        s.customer_id,
        {% if level == 'product' -%}
        s.item as product_id,
        cast(null as {{ dbt.type_string() }}) as category,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as product_id,
        s.item as category,
        {%- endif %}
        s.orders,
        s.units,
        s.returned_orders,
        s.complained_orders,
        case when f.customer_id is null then 0 else 1 end as is_first_buyer,
        coalesce(f.is_matured, 0) as first_matured,
        coalesce(f.has_repurchased, 0) as first_repurchased
    from {{ level }}_sales as s
    left join {{ level }}_first_buyers as f
        on f.customer_id = s.customer_id
        and f.item = s.item
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    quality_level,
    customer_id,
    product_id,
    category,
    orders,
    units,
    returned_orders,
    complained_orders,
    is_first_buyer,
    first_matured as first_matured_{{ window }}d,
    first_repurchased as first_repurchased_{{ window }}d
from unioned
