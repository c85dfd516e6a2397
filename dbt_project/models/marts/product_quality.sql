-- Product quality and its effect on repurchase (docs/metrics.md#marts): one row per product
-- (quality_level = 'product') and one per category (quality_level = 'category').
-- Counts are over *sold* orders (placed, not cancelled, not test; guests included), so that a
-- return ending in a full refund stays in the denominator of its own return rate. A return or
-- complaint marks an order line when it is about the order (int_aftersales_events.order_id) and
-- names the line's product or no product. Empty without order items.
with sold_lines as (
    select
        i.order_id,
        i.customer_id,
        i.product_id,
        coalesce(p.category, 'uncategorized') as category,
        p.product_name,
        i.quantity
    from {{ ref('int_order_lines') }} as i
    left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
    where i.status not in ('cancelled', 'test')
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

-- what each customer's first purchase occasion contained, with the 90-day repurchase outcome
first_occasion_products as (
    select distinct
        c.customer_id,
        i.product_id,
        coalesce(p.category, 'uncategorized') as category,
        case when {{ is_matured('c.first_occasion_date', 90) }} then 1 else 0 end as is_matured,
        case
            when {{ is_matured('c.first_occasion_date', 90) }}
                and {{ repurchased_within('c.days_to_second_occasion', 90) }}
            then 1 else 0
        end as has_repurchased
    from {{ ref('int_customer_purchases') }} as c
    inner join {{ ref('int_order_lines') }} as i
        on i.customer_id = c.customer_id
        and i.order_date = c.first_occasion_date
        and i.is_valid_purchase
    left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
),

{%- for level, key in [('product', 'product_id'), ('category', 'category')] %}

{{ level }}_sales as (
    select
        {{ key }},
        count(distinct customer_id) as buyers,
        -- order_{{ level }} has one row per order and {{ level }}
        count(*) as orders,
        cast(sum(units) as bigint) as units,
        cast(sum(was_returned) as bigint) as returned_orders,
        cast(sum(had_complaint) as bigint) as complained_orders
    from order_{{ level }}
    group by {{ key }}
),

{{ level }}_ratings as (
    select {{ key }}, count(*) as reviews, avg(rating) as avg_rating
    from ratings
    group by {{ key }}
),

{{ level }}_first_buyers as (
    select
        {{ key }},
        count(distinct customer_id) as first_buyers,
        count(distinct case when is_matured = 1 then customer_id end) as first_buyers_matured_90d,
        count(distinct case when has_repurchased = 1 then customer_id end)
            as first_buyers_repurchased_90d
    from first_occasion_products
    group by {{ key }}
),
{%- endfor %}

product_names as (
    select
        l.product_id,
        max(l.category) as category,
        max(l.product_name) as product_name
    from sold_lines as l
    group by l.product_id
),

unioned as (
    {%- for level, key in [('product', 'product_id'), ('category', 'category')] %}
    select
        '{{ level }}' as quality_level,
        {% if level == 'product' -%}
        s.product_id,
        n.product_name,
        n.category,
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        s.category,
        {%- endif %}
        s.buyers,
        s.orders,
        s.units,
        s.returned_orders,
        s.complained_orders,
        coalesce(r.reviews, 0) as reviews,
        r.avg_rating,
        coalesce(f.first_buyers, 0) as first_buyers,
        coalesce(f.first_buyers_matured_90d, 0) as first_buyers_matured_90d,
        coalesce(f.first_buyers_repurchased_90d, 0) as first_buyers_repurchased_90d
    from {{ level }}_sales as s
    {%- if level == 'product' %}
    inner join product_names as n on n.product_id = s.product_id
    {%- endif %}
    left join {{ level }}_ratings as r on r.{{ key }} = s.{{ key }}
    left join {{ level }}_first_buyers as f on f.{{ key }} = s.{{ key }}
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
    first_buyers_matured_90d,
    first_buyers_repurchased_90d,
    {{ share('first_buyers_repurchased_90d', 'first_buyers_matured_90d') }}
        as first_buyer_repurchase_rate_90d
from unioned
