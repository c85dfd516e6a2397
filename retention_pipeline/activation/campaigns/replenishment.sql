-- replenishment (marketing): the customer's last purchase in a category with a known cycle
-- (marts.replenishment_cycles) is due: the as-of date lies between due - $days_before_due and
-- due + $days_after_due (default -3 .. +7), due = last purchase date + cycle days. "Nothing of that
-- category since" holds by construction: the last purchase is the latest one up to the as-of date.
-- Once per purchase: the dedupe key carries the category and the date of that last purchase.
-- One candidate per customer and day: when several categories are due, the one due first (then
-- the category name); a purchase already reminded (queued or held out on an earlier day) is left
-- out, so the other due categories come on the following days.
with last_purchase as (
    select customer_id, category, max(order_date) as last_purchase_date
    from activation_purchases
    group by customer_id, category
),

due as (
    select
        l.customer_id,
        l.category,
        l.last_purchase_date,
        cast(round(c.cycle_days) as integer) as cycle_days,
        l.last_purchase_date + cast(round(c.cycle_days) as integer) as due_date
    from last_purchase as l
    join marts.replenishment_cycles as c on c.category = l.category
    where c.cycle_days >= 1
),

in_window as (
    select *
    from due
    where $as_of between due_date - $days_before_due and due_date + $days_after_due
      and not exists (
          select 1 from activation_logged_keys('replenishment', $as_of) as k
          where k.customer_id = due.customer_id
            and k.dedupe_key = 'replenishment:' || due.category || ':'
                || strftime(due.last_purchase_date, '%Y-%m-%d')
      )
    qualify row_number() over (partition by customer_id order by due_date, category) = 1
),

product_to_reorder as (
    -- the biggest line of the category in that last purchase: the product the message shows
    select p.customer_id, p.category, p.product_id, p.product_name
    from activation_purchases as p
    join in_window as w
        on w.customer_id = p.customer_id
        and w.category = p.category
        and w.last_purchase_date = p.order_date
    qualify row_number() over (
        partition by p.customer_id, p.category order by p.line_amount desc, p.product_id
    ) = 1
)

select
    w.customer_id,
    'replenishment' as campaign,
    'replenishment:' || w.category || ':' || strftime(w.last_purchase_date, '%Y-%m-%d') as dedupe_key,
    json_object(
        'category', w.category,
        'last_purchase_date', w.last_purchase_date,
        'cycle_days', w.cycle_days,
        'due_date', w.due_date,
        'product_id', r.product_id,
        'product_name', r.product_name
    )::varchar as context
from in_window as w
left join product_to_reorder as r
    on r.customer_id = w.customer_id
    and r.category = w.category
