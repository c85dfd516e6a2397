-- after_sales_followup (service): a complaint, a return_requested or an unresolved support_ticket
-- (property `resolved` not true) $followup_after_days days before the as-of date (default 1:
-- yesterday, local date in the reporting time zone). One message per customer and day, about the
-- day's first issue (the context lists all of them); once per event (the key is that event's id).
with issues as (
    select
        e.event_id,
        e.customer_id,
        e.event_type,
        e.occurred_at,
        json_extract_string(e.properties, '$.order_id') as order_id,
        json_extract_string(e.properties, '$.product_id') as product_id
    from staging.stg_shop__events as e
    where e.customer_id is not null
      and e.event_type in ('complaint', 'return_requested', 'support_ticket')
      and cast(timezone($reporting_tz, timezone('UTC', e.occurred_at)) as date)
          = $as_of - $followup_after_days
      and (
          e.event_type <> 'support_ticket'
          or not coalesce(try_cast(json_extract_string(e.properties, '$.resolved') as boolean), false)
      )
),

per_customer as (
    select customer_id, list(event_id order by occurred_at, event_id) as event_ids
    from issues
    group by customer_id
)

select
    i.customer_id,
    'after_sales_followup' as campaign,
    'after_sales_followup:' || i.event_id as dedupe_key,
    json_object(
        'event_id', i.event_id,
        'event_type', i.event_type,
        'order_id', i.order_id,
        'product_id', i.product_id,
        'event_date', $as_of - $followup_after_days,
        'issues', len(p.event_ids),
        'event_ids', p.event_ids
    )::varchar as context
from per_customer as p
join issues as i
    on i.customer_id = p.customer_id
    and i.event_id = p.event_ids[1]
