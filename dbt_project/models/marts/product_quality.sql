-- Product quality and its effect on repurchase (docs/metrics.md#marts): one row per product
-- (quality_level = 'product') and one per category (quality_level = 'category').
-- Counts are over *sold* orders (placed, not cancelled, not test; guests included), so that a
-- return ending in a full refund stays in the denominator of its own return rate. A return or
-- complaint marks an order line when it is about the order (int_aftersales_events.order_id) and
-- names the line's product or no product. Empty without order items.
-- The sales and first-buyer columns add up int_customer_product_sales (one row per customer and
-- product or category, kept incrementally): a customer row counts once, so `buyers` and
-- `first_buyers` need no distinct count over the history's lines.
{%- set window = product_quality_window_days() %}
with sales as (
    select
        quality_level,
        coalesce(product_id, category) as item,
        -- every row has sold orders; guests' orders count, guests themselves do not (one row
        -- for all of them)
        count(customer_id) as buyers,
        cast(sum(orders) as bigint) as orders,
        cast(sum(units) as bigint) as units,
        cast(sum(returned_orders) as bigint) as returned_orders,
        cast(sum(complained_orders) as bigint) as complained_orders,
        cast(sum(is_first_buyer) as bigint) as first_buyers,
        cast(sum(first_matured_{{ window }}d) as bigint) as first_buyers_matured_{{ window }}d,
        cast(sum(first_repurchased_{{ window }}d) as bigint) as first_buyers_repurchased_{{ window }}d
    from {{ ref('int_customer_product_sales') }}
    group by quality_level, coalesce(product_id, category)
),

ratings as (
    select
        e.product_id,
        coalesce(p.category, 'uncategorized') as category,
        e.rating
    from {{ ref('int_aftersales_events') }} as e
    left join {{ ref('stg_shop__products') }} as p on p.product_id = e.product_id
    where e.event_type = 'review'
      and e.product_id is not null
      and e.rating between 1 and 5
),

{%- for level, key in [('product', 'product_id'), ('category', 'category')] %}

{{ level }}_ratings as (
    select {{ key }} as item, count(*) as reviews, avg(rating) as avg_rating
    from ratings
    group by {{ key }}
),
{%- endfor %}

unioned as (
    {%- for level in ['product', 'category'] %}
    select
        s.quality_level,
        {% if level == 'product' -%}
        s.item as product_id,
        p.product_name,
        coalesce(p.category, 'uncategorized') as category,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        s.item as category,
        {%- endif %}
        s.buyers,
        s.orders,
        s.units,
        s.returned_orders,
        s.complained_orders,
        coalesce(r.reviews, 0) as reviews,
        r.avg_rating,
        s.first_buyers,
        s.first_buyers_matured_{{ window }}d,
        s.first_buyers_repurchased_{{ window }}d
    from sales as s
    {%- if level == 'product' %}
    left join {{ ref('stg_shop__products') }} as p on p.product_id = s.item
    {%- endif %}
    left join {{ level }}_ratings as r on r.item = s.item
    where s.quality_level = '{{ level }}'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    quality_level,
    product_id,
    product_name,
    category,
    buyers,
    orders,
    units,
    returned_orders,
    {{ share('returned_orders', 'orders') }} as return_rate,
    complained_orders,
    {{ share('complained_orders', 'orders') }} as complaint_rate,
    reviews,
    avg_rating,
    first_buyers,
    first_buyers_matured_{{ window }}d,
    first_buyers_repurchased_{{ window }}d,
    {{ share('first_buyers_repurchased_' ~ window ~ 'd', 'first_buyers_matured_' ~ window ~ 'd') }}
        as first_buyer_repurchase_rate_{{ window }}d
from unioned
