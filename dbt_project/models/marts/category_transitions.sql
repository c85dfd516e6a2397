-- Cross-category repurchase (docs/metrics.md#marts): what customers buy on their second purchase occasion, by the
-- main category of their first. One row per first category and next category (main category =
-- the largest line amount of the occasion, see int_occasion_categories). Empty without order items.
with main_categories as (
    select customer_id, occasion_seq, category
    from {{ ref('int_occasion_categories') }}
    where category_rank = 1 and occasion_seq <= 2
),

first_buyers as (
    select category as first_category, count(*) as first_category_customers
    from main_categories
    where occasion_seq = 1
    group by category
),

transitions as (
    select
        f.category as first_category,
        n.category as next_category,
        count(*) as customers
    from main_categories as f
    inner join main_categories as n
        on n.customer_id = f.customer_id
        and n.occasion_seq = 2
    where f.occasion_seq = 1
    group by f.category, n.category
)

select
    t.first_category,
    t.next_category,
    t.first_category = t.next_category as is_same_category,
    t.customers,
    fb.first_category_customers,
    {{ share('t.customers', 'sum(t.customers) over (partition by t.first_category)') }}
        as share_of_repurchasers,
    {{ share('t.customers', 'fb.first_category_customers') }} as share_of_first_buyers
from transitions as t
inner join first_buyers as fb on fb.first_category = t.first_category
