{{ config(materialized='ephemeral') }}
-- replenishment (marketing): the customer's last purchase in a category with a known cycle
-- (the model replenishment_cycles) is due: the as-of date lies between
-- due - replenishment_days_before_due and due + replenishment_days_after_due (default -3 .. +7),
-- due = last purchase date + cycle days. "Nothing of that category since" holds by construction:
-- the last purchase is the latest one up to the as-of date. Once per purchase: the dedupe key
-- carries the category and the date of that last purchase.
-- One candidate per customer and day: when several categories are due, the one due first (then
-- the category name); a purchase already reminded (queued or held out on an earlier day) is left
-- out, so the other due categories come on the following days.
with last_purchase as (
    select customer_id, category, max(order_date) as last_purchase_date
    from {{ ref('activation_purchases') }}
    group by customer_id, category
),

cycles as (
    select category, {{ round_days("cycle_days") }} as cycle_days
    from {{ ref('replenishment_cycles') }}
    where cycle_days >= 1
),

due as (
    select
        l.customer_id,
        l.category,
        l.last_purchase_date,
        c.cycle_days,
        {{ add_days('c.cycle_days', 'l.last_purchase_date') }} as due_date,
        'replenishment:' || l.category || ':' || {{ act_str('l.last_purchase_date') }} as dedupe_key
    from last_purchase as l
    join cycles as c on c.category = l.category
),

in_window as (
    select
        d.*,
        row_number() over (partition by d.customer_id order by d.due_date, d.category) as due_rank
    from due as d
    where {{ act_day() }} between {{ add_days(-run_var('replenishment_days_before_due', 3), 'd.due_date') }}
                              and {{ add_days(run_var('replenishment_days_after_due', 7), 'd.due_date') }}
      and not exists (
          select 1 from {{ contact_log_keys_before_as_of() }} as k
          where k.campaign = 'replenishment'
            and k.customer_id = d.customer_id
            and k.dedupe_key = d.dedupe_key
      )
),

chosen as (
    select * from in_window where due_rank = 1
),

product_to_reorder as (
    -- the biggest line of the category in that last purchase: the product the message shows
    select
        p.customer_id, p.category, p.product_id, n.product_name,
        row_number() over (
            partition by p.customer_id, p.category order by p.line_amount desc, p.product_id
        ) as line_rank
    from {{ ref('activation_purchases') }} as p
    left join {{ ref('stg_shop__products') }} as n on n.product_id = p.product_id
    join chosen as w
        on w.customer_id = p.customer_id
        and w.category = p.category
        and w.last_purchase_date = p.order_date
)

select
    w.customer_id,
    'replenishment' as campaign,
    w.dedupe_key,
    {{ json_object([
        ('category', json_string('w.category')),
        ('last_purchase_date', json_string('w.last_purchase_date')),
        ('cycle_days', json_number('w.cycle_days')),
        ('due_date', json_string('w.due_date')),
        ('product_id', json_string('r.product_id')),
        ('product_name', json_string('r.product_name')),
    ]) }} as context
from chosen as w
left join product_to_reorder as r
    on r.customer_id = w.customer_id
    and r.category = w.category
    and r.line_rank = 1
