-- vip_early_access (marketing): VIPs (member tier in $vip_tiers, default Gold/Platinum, or RFM
-- segment in $vip_segments, default Champions/Loyal Customers) hear of a product launching within
-- the next $vip_lead_days days (default 3; launch date in the reporting time zone, after the
-- as-of date). Once per product.
-- One candidate per customer and day (not per product): its context lists up to 3 launching
-- products (those of categories the customer bought first, then the soonest launch, then product
-- id), and its dedupe key names them. A product already announced to the customer (queued or held
-- out on an earlier day) is left out; no candidate when every product has been announced.
with upcoming as (
    select
        product_id,
        product_name,
        category,
        cast(timezone($reporting_tz, timezone('UTC', launched_at)) as date) as launch_date
    from staging.stg_shop__products
    where launched_at is not null
),

launching as (
    select * from upcoming
    where launch_date between $as_of + 1 and $as_of + $vip_lead_days
),

vips as (
    select customer_id
    from marts.dim_customers
    where list_contains($vip_tiers, member_tier)
       or list_contains($vip_segments, rfm_segment)
),

own_categories as (
    select distinct customer_id, category
    from activation_purchases
    where category in (select category from launching)
),

offers as (
    select
        v.customer_id,
        l.product_id,
        l.product_name,
        l.category,
        l.launch_date,
        row_number() over (
            partition by v.customer_id
            order by (o.category is null), l.launch_date, l.product_id
        ) as product_rank
    from vips as v
    cross join launching as l
    left join own_categories as o on o.customer_id = v.customer_id and o.category = l.category
    where not exists (
        select 1 from activation_announced('vip_early_access', $as_of) as s
        where s.customer_id = v.customer_id and s.product_id = l.product_id
    )
)

select
    customer_id,
    'vip_early_access' as campaign,
    'vip_early_access:' || string_agg(product_id, ',' order by product_rank) as dedupe_key,
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
