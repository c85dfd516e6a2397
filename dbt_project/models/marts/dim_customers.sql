-- One row per customer (docs/metrics.md#marts): every customer of `customers`, plus every customer_id with a valid
-- purchase that `customers` does not (yet) hold. Purchase history, RFM (docs/metrics.md#rfm), member tier and
-- the first-purchase attributes activation and predictions read.
with purchases as (
    select
        p.*,
        {{ dbt.datediff('p.last_occasion_date', as_of_date(), 'day') }} as recency_days,
        -- higher is better: recent (fewer days), frequent, high spend; ties share a score
        cast(least(5, 1 + floor(5 * percent_rank() over (
            order by {{ dbt.datediff('p.last_occasion_date', as_of_date(), 'day') }} desc
        ))) as integer) as r_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by p.occasions))) as integer)
            as f_score,
        cast(least(5, 1 + floor(5 * percent_rank() over (order by p.net_revenue))) as integer)
            as m_score
    from {{ ref('int_customer_purchases') }} as p
),

customers as (
    select
        coalesce(pr.customer_id, p.customer_id) as customer_id,
        pr.customer_id is not null as is_known_customer,
        pr.created_at,
        pr.country,
        pr.timezone,
        pr.language,
        pr.acquisition_channel,
        p.first_occasion_date,
        p.second_occasion_date,
        p.last_occasion_date,
        p.occasions,
        p.orders,
        p.net_revenue,
        coalesce(p.net_revenue_365d, 0) as net_revenue_365d,
        p.days_to_second_occasion,
        p.recency_days,
        p.r_score,
        p.f_score,
        p.m_score,
        p.first_order_id,
        p.first_order_channel,
        p.first_order_used_coupon
    from {{ ref('stg_shop__customers') }} as pr
    full outer join purchases as p on p.customer_id = pr.customer_id
),

-- the highest tier threshold reached
tier_thresholds as (
    select c.customer_id, max(t.min_net_spend_365d) as threshold
    from customers as c
    inner join {{ ref('member_tiers') }} as t on t.min_net_spend_365d <= c.net_revenue_365d
    group by c.customer_id
),

first_categories as (
    select customer_id, category as first_category
    from {{ ref('int_occasion_categories') }}
    where occasion_seq = 1 and category_rank = 1
)

select
    c.customer_id,
    c.is_known_customer,
    c.created_at,
    c.country,
    c.timezone,
    c.language,
    c.acquisition_channel,
    c.first_occasion_date,
    c.second_occasion_date,
    c.last_occasion_date,
    coalesce(c.occasions, 0) as occasions,
    coalesce(c.orders, 0) as orders,
    coalesce(c.net_revenue, 0) as net_revenue,
    cast(c.net_revenue as {{ type_double() }}) / nullif(c.orders, 0) as avg_order_value,
    case when c.occasions >= 2 then
        cast({{ dbt.datediff('c.first_occasion_date', 'c.last_occasion_date', 'day') }}
            as {{ type_double() }}) / (c.occasions - 1)
    end as avg_days_between_occasions,
    c.days_to_second_occasion,
    c.recency_days,
    c.r_score,
    c.f_score,
    c.m_score,
    (c.f_score + c.m_score) / 2.0 as fm_score,
    seg.segment as rfm_segment,
    c.net_revenue_365d,
    t.tier as member_tier,
    fc.first_category,
    c.first_order_id,
    c.first_order_channel,
    c.first_order_used_coupon
from customers as c
-- the seed partitions the grid (checked in int_rfm_segment_cells): one segment per cell
left join {{ ref('int_rfm_segment_cells') }} as seg
    on seg.r_score = c.r_score and seg.fm_score = (c.f_score + c.m_score) / 2.0
left join tier_thresholds as tt on tt.customer_id = c.customer_id
left join {{ ref('member_tiers') }} as t on t.min_net_spend_365d = tt.threshold
left join first_categories as fc on fc.customer_id = c.customer_id
