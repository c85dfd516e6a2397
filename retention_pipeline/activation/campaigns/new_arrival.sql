-- new_arrival (marketing): a product launched in the $launch_days days before the as-of date
-- (default 7; a product launching today is announced tomorrow, never before it is on sale), in a
-- category the customer bought within the last $lookback_days days (default 365), and the customer
-- has not bought that product. Once per product.
with launched as (
    select
        product_id,
        product_name,
        category,
        cast(timezone($reporting_tz, timezone('UTC', launched_at)) as date) as launch_date
    from staging.stg_shop__products
    where launched_at is not null
),

new_products as (
    select * from launched
    where launch_date between $as_of - $launch_days and $as_of - 1
),

category_buyers as (
    select distinct p.customer_id, p.category
    from activation_purchases as p
    where p.order_date > $as_of - $lookback_days
      and p.category in (select category from new_products)
),

already_bought as (
    select distinct customer_id, product_id
    from activation_purchases
    where product_id in (select product_id from new_products)
)

select
    b.customer_id,
    'new_arrival' as campaign,
    'new_arrival:' || n.product_id as dedupe_key,
    json_object(
        'product_id', n.product_id,
        'product_name', n.product_name,
        'category', n.category,
        'launch_date', n.launch_date
    )::varchar as context
from category_buyers as b
join new_products as n on n.category = b.category
where not exists (
    select 1 from already_bought as a
    where a.customer_id = b.customer_id and a.product_id = n.product_id
)
