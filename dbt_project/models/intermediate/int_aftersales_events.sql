-- After-sales events (support tickets, complaints, return requests, reviews) with their properties
-- parsed and the order they are about. An event names its order in properties.order_id; one that
-- does not is about the customer's latest sold order placed before it (sold = not cancelled, not
-- test: a return that ends in a full refund stays about the order it returned).
-- Incremental by event: an incremental build recomputes the events loaded or come of age since
-- the last build, the events of touched customers (their orders changed) and the events naming a
-- touched order (macros/incremental.sql). Events never leave staging, so every recomputed event
-- comes back and replaces its row (no pre-hook needed).
{{ config(
    materialized=incremental_materialization(),
    unique_key='event_id',
    incremental_strategy='delete+insert',
) }}
-- depends_on: {{ ref('touched_customers') }}, {{ ref('touched_orders') }}, {{ source('raw', 'events') }}
with events as (
    select
        event_id,
        event_type,
        customer_id,
        occurred_at,
        {{ to_local('occurred_at') }} as occurred_at_local,
        nullif(trim({{ json_text('properties', 'order_id') }}), '') as property_order_id,
        nullif(trim({{ json_text('properties', 'product_id') }}), '') as product_id,
        {{ text_to_double(json_text('properties', 'rating')) }} as rating,
        {{ text_to_double(json_text('properties', 'first_response_minutes')) }}
            as first_response_minutes,
        {{ text_to_boolean(json_text('properties', 'resolved')) }} as resolved
    from {{ ref('stg_shop__events') }}
    where event_type in ('support_ticket', 'complaint', 'return_requested', 'review')
    {%- if recomputes_touched() %}
      and (
        event_id in ({{ touched_keys(source('raw', 'events'), 'event_id', ['occurred_at']) }})
        or customer_id in (select customer_id from {{ ref('touched_customers') }})
        or event_id in (
            select event_id from {{ this }}
            where order_attribution = 'property'
              and order_id in (select order_id from {{ ref('touched_orders') }})
        )
      )
    {%- endif %}
),

sold_orders as (
    select order_id, customer_id, ordered_at
    from {{ ref('int_orders') }}
    where customer_id is not null
      and status not in ('cancelled', 'test')
),

-- only events without an order id look for the latest order before them
latest_order_before as (
    select event_id, order_id
    from (
        select
            e.event_id,
            o.order_id,
            row_number() over (
                partition by e.event_id order by o.ordered_at desc, o.order_id desc
            ) as recency_rank
        from events as e
        inner join sold_orders as o
            on o.customer_id = e.customer_id
            and o.ordered_at <= e.occurred_at
        where e.property_order_id is null
    ) as ranked
    where recency_rank = 1
)

select
    e.event_id,
    e.event_type,
    coalesce(e.customer_id, named.customer_id) as customer_id,
    e.occurred_at,
    e.occurred_at_local,
    cast(e.occurred_at_local as date) as event_date,
    coalesce(e.property_order_id, lob.order_id) as order_id,
    case
        when e.property_order_id is not null then 'property'
        when lob.order_id is not null then 'latest_order_before'
    end as order_attribution,
    e.product_id,
    e.rating,
    e.first_response_minutes,
    e.resolved
from events as e
left join latest_order_before as lob on lob.event_id = e.event_id
left join {{ ref('int_orders') }} as named on named.order_id = e.property_order_id
