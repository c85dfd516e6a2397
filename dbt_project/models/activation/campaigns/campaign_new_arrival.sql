{{ config(materialized='ephemeral') }}
-- new_arrival (marketing): a product launched in the new_arrival_launch_days days before the as-of
-- date (default 7; a product launching today is announced tomorrow, never before it is on sale), in
-- a category the customer bought within the last new_arrival_lookback_days days (default 365), and
-- the customer has not bought that product. Once per product.
-- One candidate per customer and day (not per product): its context lists the newest such products
-- (up to 3; newest launch first, then product id), and its dedupe key names them. A product already
-- announced to the customer (queued or held out on an earlier day) is left out, so a candidate is
-- proposed while at least one of its products is new to the customer, with only those products.
with new_products as (
    select *, {{ product_offer_json() }} as product_json from (
        select
            product_id,
            product_name,
            category,
            cast({{ to_local('launched_at') }} as date) as launch_date
        from {{ ref('stg_shop__products') }}
        where launched_at is not null
    ) as launched
    where launch_date between {{ act_day(-run_var('new_arrival_launch_days', 7)) }} and {{ act_day(-1) }}
),

category_buyers as (
    select distinct p.customer_id, p.category
    from {{ ref('activation_purchases') }} as p
    where p.order_date > {{ act_day(-run_var('new_arrival_lookback_days', 365)) }}
      and p.category in (select category from new_products)
),

already_bought as (
    select distinct customer_id, product_id
    from {{ ref('activation_purchases') }}
    where product_id in (select product_id from new_products)
),

offers as (
    select
        b.customer_id,
        n.product_id,
        n.product_json,
        row_number() over (
            partition by b.customer_id order by n.launch_date desc, n.product_id
        ) as product_rank
    from category_buyers as b
    join new_products as n on n.category = b.category
    left join already_bought as a
        on a.customer_id = b.customer_id and a.product_id = n.product_id
    left join {{ announced_products('new_arrival', 'new_products') }} as s
        on s.customer_id = b.customer_id and s.product_id = n.product_id
    where a.customer_id is null and s.customer_id is null
)

{{ product_offer_candidates('new_arrival', 'offers') }}
