{#- A product's category as staging shows it: trimmed, lower case, 'uncategorized' when empty. -#}
{% macro product_category(column) -%}
    coalesce(nullif(trim(lower({{ column }})), ''), 'uncategorized')
{%- endmacro %}

{#- product_id, category, price and price_tier (1-4: the price's quartile within the category, ties
    shared) of the priced products of `products` (a relation or CTE name). -#}
{% macro price_tiers(products) -%}
select
    product_id,
    category,
    price,
    cast(least(4, 1 + floor(4 * percent_rank() over (
        partition by category order by price
    ))) as integer) as price_tier
from {{ products }}
where price is not null
{%- endmacro %}
