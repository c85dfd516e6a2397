-- new_arrival (marketing): a product launched in the $launch_days days before the as-of date
-- (default 7; a product launching today is announced tomorrow, never before it is on sale), in a
-- category the customer bought within the last $lookback_days days (default 365), and the customer
-- has not bought that product. Once per product.
-- One candidate per customer and day (not per product): its context lists the newest such products
-- (up to 3; newest launch first, then product id), and its dedupe key names them. A product already
-- announced to the customer (queued or held out on an earlier day) is left out, so a candidate is
-- proposed while at least one of its products is new to the customer, with only those products.
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
),

offers as (
    select
        b.customer_id,
        n.product_id,
        n.product_name,
        n.category,
        n.launch_date,
        row_number() over (
            partition by b.customer_id order by n.launch_date desc, n.product_id
        ) as product_rank
    from category_buyers as b
    join new_products as n on n.category = b.category
    where not exists (
        select 1 from already_bought as a
        where a.customer_id = b.customer_id and a.product_id = n.product_id
    )
    and not exists (
        select 1 from activation_announced('new_arrival', $as_of) as s
        where s.customer_id = b.customer_id and s.product_id = n.product_id
    )
)

select
    customer_id,
    'new_arrival' as campaign,
    'new_arrival:' || string_agg(product_id, ',' order by product_rank) as dedupe_key,
    json_object(
        'products',
        list(
            json_object(
                'product_id', product_id,
                'product_name', product_name,
                'category', category,
                'launch_date', launch_date
            ) order by product_rank
        )
    )::varchar as context
from offers
where product_rank <= 3
group by customer_id
