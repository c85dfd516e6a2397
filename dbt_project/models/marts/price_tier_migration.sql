-- Trading up and down (docs/metrics.md#price-tier-migration): per customer, the price tier of
-- the first occasion (from) against that of the latest later occasion that is matured for 90 days
-- (to: the latest occasion with occasion_seq >= 2 and occasion_date + 90 <= as-of, so that
-- what followed it can be seen), and whether the customer bought again within 90 days after it.
-- One row per from tier × to tier (4 × 4, zeros included); no rows when the shop sends no items.
with occasions as (
    select
        p.customer_id,
        p.occasion_date,
        p.occasion_seq,
        t.price_tier
    from {{ ref('int_purchase_occasions') }} as p
    left join {{ ref('int_occasion_price_tiers') }} as t
        on t.customer_id = p.customer_id and t.occasion_date = p.occasion_date
),

latest as (
    select customer_id, occasion_date, occasion_seq, price_tier
    from (
        select
            o.*,
            row_number() over (partition by customer_id order by occasion_seq desc) as recency_rank
        from occasions as o
        where occasion_seq >= 2
          and price_tier is not null
          and {{ is_matured('occasion_date', 90) }}
    ) as ranked
    where recency_rank = 1
),

customers as (
    select
        f.price_tier as from_price_tier,
        l.price_tier as to_price_tier,
        case
            when n.occasion_date is not null
                and {{ dbt.datediff('l.occasion_date', 'n.occasion_date', 'day') }} <= 90
            then 1 else 0
        end as has_repurchased
    from latest as l
    inner join occasions as f
        on f.customer_id = l.customer_id and f.occasion_seq = 1 and f.price_tier is not null
    left join occasions as n
        on n.customer_id = l.customer_id and n.occasion_seq = l.occasion_seq + 1
),

tiers as (
    select 1 as price_tier union all select 2 union all select 3 union all select 4
),

per_cell as (
    select
        from_price_tier,
        to_price_tier,
        count(*) as customers,
        cast(sum(has_repurchased) as bigint) as repurchased_customers_90d
    from customers
    group by from_price_tier, to_price_tier
),

grid as (
    select
        f.price_tier as from_price_tier,
        t.price_tier as to_price_tier,
        coalesce(c.customers, 0) as customers,
        coalesce(c.repurchased_customers_90d, 0) as repurchased_customers_90d
    from tiers as f
    cross join tiers as t
    left join per_cell as c
        on c.from_price_tier = f.price_tier and c.to_price_tier = t.price_tier
)

select
    from_price_tier,
    to_price_tier,
    case
        when to_price_tier > from_price_tier then 'up'
        when to_price_tier < from_price_tier then 'down'
        else 'same'
    end as direction,
    customers,
    -- of the customers who started in the from tier
    {{ share('customers', 'sum(customers) over (partition by from_price_tier)') }} as share,
    repurchased_customers_90d,
    {{ share('repurchased_customers_90d', 'customers') }} as repurchase_rate_90d
from grid
where exists (select 1 from {{ ref('stg_shop__order_items') }})
