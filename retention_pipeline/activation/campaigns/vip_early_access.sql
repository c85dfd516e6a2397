-- vip_early_access (marketing): VIPs (member tier in $vip_tiers, default Gold/Platinum, or RFM
-- segment in $vip_segments, default Champions/Loyal Customers) hear of a product launching within
-- the next $vip_lead_days days (default 3; launch date in the reporting time zone, after the
-- as-of date). Once per product.
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
)

select
    v.customer_id,
    'vip_early_access' as campaign,
    'vip_early_access:' || l.product_id as dedupe_key,
    json_object(
        'product_id', l.product_id,
        'product_name', l.product_name,
        'category', l.category,
        'launch_date', l.launch_date
    )::varchar as context
from vips as v
cross join launching as l
