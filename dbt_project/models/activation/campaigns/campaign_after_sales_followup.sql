{{ config(materialized='ephemeral') }}
-- after_sales_followup (service): a complaint, a return_requested or an unresolved support_ticket
-- (property `resolved` not true) followup_after_days days before the as-of date (default 1:
-- yesterday, local date in the reporting time zone). One message per customer and day, about the
-- day's first issue (the context lists all of them); once per event (the key is that event's id).
with issues as (
    select
        e.event_id,
        e.customer_id,
        e.event_type,
        e.occurred_at,
        {{ json_text('e.properties', 'order_id') }} as order_id,
        {{ json_text('e.properties', 'product_id') }} as product_id,
        row_number() over (partition by e.customer_id order by e.occurred_at, e.event_id) as issue_rank
    from {{ ref('stg_shop__events') }} as e
    where e.customer_id is not null
      and e.event_type in ('complaint', 'return_requested', 'support_ticket')
      and {{ near_local_days('e.occurred_at', -run_var('followup_after_days', 1)) }}
      and cast({{ to_local('e.occurred_at') }} as date) = {{ act_day(-run_var('followup_after_days', 1)) }}
      and (
          e.event_type <> 'support_ticket'
          or not coalesce({{ text_to_boolean(json_text('e.properties', 'resolved')) }}, false)
      )
),

per_customer as (
    select
        customer_id,
        count(*) as issues,
        {{ json_array_agg(json_string('event_id'), ['occurred_at', 'event_id']) }} as event_ids
    from issues
    group by customer_id
)

select
    i.customer_id,
    'after_sales_followup' as campaign,
    'after_sales_followup:' || i.event_id as dedupe_key,
    {{ json_object([
        ('event_id', json_string('i.event_id')),
        ('event_type', json_string('i.event_type')),
        ('order_id', json_string('i.order_id')),
        ('product_id', json_string('i.product_id')),
        ('event_date', json_string(act_day(-run_var('followup_after_days', 1)))),
        ('issues', json_number('p.issues')),
        ('event_ids', 'p.event_ids'),
    ]) }} as context
from per_customer as p
join issues as i
    on i.customer_id = p.customer_id
    and i.issue_rank = 1
