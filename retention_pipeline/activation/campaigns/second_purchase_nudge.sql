-- second_purchase_nudge (marketing): exactly one purchase occasion, $nudge_min_days to
-- $nudge_max_days days ago (default 30-37): the coupon nudge for the second order that has not
-- come. Once per customer. The context names the category of the first purchase, when known.
with single_buyers as (
    select customer_id, first_occasion_date
    from marts.dim_customers
    where occasions = 1
      and first_occasion_date between $as_of - $nudge_max_days and $as_of - $nudge_min_days
),

first_category as (
    select p.customer_id, p.category
    from activation_purchases as p
    join single_buyers as s
        on s.customer_id = p.customer_id
        and p.order_date = s.first_occasion_date
    qualify row_number() over (
        partition by p.customer_id order by p.line_amount desc, p.category
    ) = 1
)

select
    s.customer_id,
    'second_purchase_nudge' as campaign,
    'second_purchase_nudge' as dedupe_key,
    json_object(
        'first_order_date', s.first_occasion_date,
        'days_since_first_order', $as_of - s.first_occasion_date,
        'category', c.category
    )::varchar as context
from single_buyers as s
left join first_category as c on c.customer_id = s.customer_id
