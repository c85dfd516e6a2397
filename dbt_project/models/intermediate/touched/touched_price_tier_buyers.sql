-- The customers whose rows of int_occasion_price_tiers an incremental build recomputes
-- (macros/incremental.sql): touched_customers (their orders or lines changed), and the buyers of
-- every product whose price tier moved since the last build. A tier is a quartile within the
-- category, so a new product or a new price can move other products' tiers: the catalogue the
-- last build saw (the product rows ingested by then, each product's version as of that build's
-- as-of day, as stg_shop__products chose it then) is tiered again and compared, product by product.
-- Empty in a full build.
-- depends_on: {{ source('raw', 'products') }}, {{ ref('touched_customers') }}, {{ ref('int_order_lines') }}, {{ ref('int_product_price_tiers') }}
{% if incremental_vars_set() -%}
with catalogue_before as (
    select product_id, {{ product_category('category') }} as category, price
    from (
        select
            *,
            {{ version_rank('product_id', 'updated_at', since_as_of_end_utc()) }} as version_rank
        from {{ source('raw', 'products') }}
        where _ingested_at <= cast('{{ run_var("incremental_since_ingested") }}' as timestamp)
    ) as ranked
    where version_rank = 1
),

tiers_before as (
    {{ price_tiers('catalogue_before') }}
),

moved as (
    select coalesce(n.product_id, b.product_id) as product_id
    from {{ ref('int_product_price_tiers') }} as n
    full outer join tiers_before as b on b.product_id = n.product_id
    where coalesce(n.price_tier, 0) <> coalesce(b.price_tier, 0)
)

select customer_id
from (
    select customer_id
    from {{ ref('touched_customers') }}
    union
    select customer_id
    from {{ ref('int_order_lines') }}
    where is_valid_purchase
      and product_id in (select product_id from moved)
) as touched
where customer_id is not null
{%- else -%}
select customer_id
from {{ ref('touched_customers') }}
where 1 = 0
{%- endif %}
