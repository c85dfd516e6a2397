-- The customers whose rows of int_occasion_price_tiers an incremental build recomputes
-- (macros/incremental.sql):
-- - touched_customers (their orders or lines changed);
-- - every buyer of a product of a category in which a product row was touched since the last
--   build: a new product, a new price or a product leaving moves the price quartiles of the whole
--   category. Every version of a touched product names its categories, so a product that changed
--   category touches the old one too.
-- Empty in a full build.
-- depends_on: {{ source('raw', 'products') }}, {{ ref('touched_customers') }}, {{ ref('int_order_lines') }}, {{ ref('stg_shop__products') }}
{% if incremental_vars_set() -%}
select customer_id
from (
    select customer_id
    from {{ ref('touched_customers') }}
    union
    select i.customer_id
    from {{ ref('int_order_lines') }} as i
    inner join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
    where i.is_valid_purchase
      and p.category in (
          -- every version counts, as in stg_shop__products (products are not cut by batch)
          select {{ product_category('category') }}
          from {{ source('raw', 'products') }}
          where product_id in (
              select product_id
              from {{ source('raw', 'products') }}
              where {{ touched_row(['updated_at']) }}
          )
      )
) as touched
where customer_id is not null
{%- else -%}
select customer_id
from {{ ref('touched_customers') }}
where 1 = 0
{%- endif %}
