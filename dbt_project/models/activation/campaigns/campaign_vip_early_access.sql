{{ config(materialized='ephemeral') }}
-- vip_early_access (marketing): VIPs (member tier in vip_tiers, default Gold/Platinum, or RFM
-- segment in vip_segments, default Champions/Loyal Customers) hear of a product launching within
-- the next vip_lead_days days (default 3; launch date in the reporting time zone, after the as-of
-- date). Once per product.
-- One candidate per customer and day (not per product): its context lists up to 3 launching
-- products (those of categories the customer bought first, then the soonest launch, then product
-- id), and its dedupe key names them. A product already announced to the customer (queued or held
-- out on an earlier day) is left out; no candidate when every product has been announced.
with launching as (
    select *, {{ product_offer_json() }} as product_json from (
        select
            product_id,
            product_name,
            category,
            cast({{ to_local('launched_at') }} as date) as launch_date
        from {{ ref('stg_shop__products') }}
        where launched_at is not null
    ) as upcoming
    where launch_date between {{ act_day(1) }} and {{ act_day(run_var('vip_lead_days', 3)) }}
),

vips as (
    select customer_id
    from {{ ref('dim_customers') }}
    where member_tier in {{ act_in(run_var('vip_tiers', ['Gold', 'Platinum'])) }}
       or rfm_segment in {{ act_in(run_var('vip_segments', ['Champions', 'Loyal Customers'])) }}
),

own_categories as (
    select distinct customer_id, category
    from {{ ref('activation_purchases') }}
    where category in (select category from launching)
),

offers as (
    select
        v.customer_id,
        l.product_id,
        l.product_json,
        row_number() over (
            partition by v.customer_id
            order by case when o.category is null then 1 else 0 end, l.launch_date, l.product_id
        ) as product_rank
    from vips as v
    cross join launching as l
    left join own_categories as o on o.customer_id = v.customer_id and o.category = l.category
    left join {{ announced_products('vip_early_access', 'launching') }} as s
        on s.customer_id = v.customer_id and s.product_id = l.product_id
    where s.customer_id is null
)

{{ product_offer_candidates('vip_early_access', 'offers') }}
