-- One row per customer with at least one purchase occasion: the purchase history every customer
-- mart starts from (first/second/last occasion, counts, revenue, what the first order looked like).
-- "First order" means the first purchase occasion; its channel is that of its earliest order.
with occasions as (
    select * from {{ ref('int_purchase_occasions') }}
),

history as (
    select
        customer_id,
        min(occasion_date) as first_occasion_date,
        max(occasion_date) as last_occasion_date,
        count(*) as occasions,
        cast(sum(orders) as bigint) as orders,
        sum(net_amount) as net_revenue,
        -- member tiers look at the 365 days ending on the as-of date: (as_of - 365, as_of]
        coalesce(sum(case
            when occasion_date > {{ add_days(-365, as_of_date()) }} then net_amount
        end), 0) as net_revenue_365d
    from occasions
    group by customer_id
),

first_two as (
    select
        customer_id,
        max(case when occasion_seq = 1 then orders end) as first_occasion_orders,
        max(case when occasion_seq = 1 then net_amount end) as first_occasion_net_amount,
        -- boolean max is not portable: go through 0/1
        max(case when occasion_seq = 1 and used_coupon then 1 else 0 end) = 1
            as first_order_used_coupon,
        max(case when occasion_seq = 1 then first_ordered_at end) as first_ordered_at,
        max(case when occasion_seq = 2 then occasion_date end) as second_occasion_date,
        max(case when occasion_seq = 2 then first_ordered_at end) as second_ordered_at,
        -- the customer's first valid order is the first order of the first occasion
        max(case when occasion_seq = 1 then first_order_id end) as first_order_id,
        max(case when occasion_seq = 1 then first_order_channel end) as first_order_channel
    from occasions
    where occasion_seq <= 2
    group by customer_id
)

select
    h.customer_id,
    h.first_occasion_date,
    f.second_occasion_date,
    h.last_occasion_date,
    h.occasions,
    h.orders,
    h.net_revenue,
    h.net_revenue_365d,
    {{ dbt.datediff('h.first_occasion_date', 'f.second_occasion_date', 'day') }}
        as days_to_second_occasion,
    f.first_ordered_at,
    f.second_ordered_at,
    f.first_occasion_orders,
    f.first_occasion_net_amount,
    f.first_order_used_coupon,
    f.first_order_id,
    f.first_order_channel
from history as h
inner join first_two as f on f.customer_id = h.customer_id
