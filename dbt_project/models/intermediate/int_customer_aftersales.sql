-- After-sales experience of each customer's first purchase occasion (one row per customer with an
-- occasion): the input of the after-sales drivers. An event counts when all of these hold:
--   * it is about an order of the first occasion (int_aftersales_events.order_id: the order named
--     in the event, else the customer's latest order placed before it);
--   * it happened before the first order of the second occasion: only what the customer met before
--     buying again can explain that they did;
--   * it happened on or before first_occasion_date + 90 days (local), the window of
--     aftersales_retention, so that late events do not count for customers who never return.
with customers as (
    select
        customer_id,
        first_occasion_date,
        second_ordered_at
    from {{ ref('int_customer_purchases') }}
),

first_occasion_orders as (
    select o.customer_id, o.order_id
    from {{ ref('int_orders') }} as o
    inner join customers as c
        on c.customer_id = o.customer_id
        and c.first_occasion_date = o.order_date
    where o.is_valid_purchase
),

counted as (
    select
        f.customer_id,
        e.event_id,
        e.event_type,
        e.occurred_at,
        e.first_response_minutes,
        e.resolved
    from {{ ref('int_aftersales_events') }} as e
    inner join first_occasion_orders as f on f.order_id = e.order_id
    inner join customers as c on c.customer_id = f.customer_id
    where e.event_type in ('return_requested', 'complaint', 'support_ticket')
      and (c.second_ordered_at is null or e.occurred_at < c.second_ordered_at)
      and e.event_date <= {{ add_days(90, 'c.first_occasion_date') }}
),

problems as (
    select
        customer_id,
        max(case when event_type = 'return_requested' then 1 else 0 end) as had_return,
        max(case when event_type = 'complaint' then 1 else 0 end) as had_complaint
    from counted
    group by customer_id
),

tickets as (
    select
        customer_id,
        event_id,
        occurred_at,
        first_response_minutes,
        resolved,
        row_number() over (partition by customer_id order by occurred_at, event_id) as ticket_rank
    from counted
    where event_type = 'support_ticket'
)

select
    c.customer_id,
    coalesce(p.had_return, 0) = 1 as first_order_had_return,
    coalesce(p.had_complaint, 0) = 1 as first_order_had_complaint,
    coalesce(p.had_return, 0) + coalesce(p.had_complaint, 0) > 0
        as first_order_had_return_or_complaint,
    t.event_id as first_ticket_event_id,
    t.occurred_at as first_ticket_at,
    t.first_response_minutes,
    t.resolved as first_ticket_resolved,
    case
        when t.event_id is null then 'no ticket'
        when t.first_response_minutes < 60 then '< 1 h'
        when t.first_response_minutes < 24 * 60 then '1–24 h'
        -- a ticket without a recorded response was not answered within a day either
        else '> 24 h'
    end as first_response_bucket
from customers as c
left join problems as p on p.customer_id = c.customer_id
left join tickets as t on t.customer_id = c.customer_id and t.ticket_rank = 1
