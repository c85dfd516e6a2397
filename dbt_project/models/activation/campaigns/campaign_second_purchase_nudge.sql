{{ config(materialized='ephemeral') }}
-- second_purchase_nudge (marketing): exactly one purchase occasion, nudge_min_days to
-- nudge_max_days days ago (default 30-37): the coupon nudge for the second order that has not
-- come. Once per customer. The context names the category of the first purchase, when known.
with single_buyers as (
    select customer_id, first_occasion_date
    from {{ ref('dim_customers') }}
    where occasions = 1
      and first_occasion_date between {{ act_day(-run_var('nudge_max_days', 37)) }}
                                  and {{ act_day(-run_var('nudge_min_days', 30)) }}
),

ranked_categories as (
    select
        p.customer_id,
        p.category,
        row_number() over (
            partition by p.customer_id order by p.line_amount desc, p.category
        ) as category_rank
    from {{ ref('activation_purchases') }} as p
    join single_buyers as s
        on s.customer_id = p.customer_id
        and p.order_date = s.first_occasion_date
)

select
    s.customer_id,
    'second_purchase_nudge' as campaign,
    'second_purchase_nudge' as dedupe_key,
    {{ json_object([
        ('first_order_date', json_string('s.first_occasion_date')),
        ('days_since_first_order', json_number(dbt.datediff('s.first_occasion_date', act_day(), 'day'))),
        ('category', json_string('c.category')),
    ]) }} as context
from single_buyers as s
left join ranked_categories as c on c.customer_id = s.customer_id and c.category_rank = 1
