-- Incremental by order_id: an incremental build recomputes the orders touched since the last
-- build from all their visible versions (macros/incremental.sql).
{{ config(
    materialized=staging_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_touched(source('raw', 'orders'), 'order_id', order_timestamps()) }}",
) }}

with ranked as (
    select
        *,
        {{ version_rank('order_id', 'coalesce(updated_at, ordered_at)') }} as version_rank
    from {{ source('raw', 'orders') }}
    where {{ visible_batch(source('raw', 'orders')) }}
    {{- only_touched(source('raw', 'orders'), 'order_id', order_timestamps()) }}
),

-- The shop's own statuses -> the contract's (seed order_status_map, editable). One row per
-- normalised status, whatever the seed holds, so the join never repeats an order.
status_map as (
    select
        {{ normalized_status('shop_status') }} as status_key,
        min(lower(trim(status))) as mapped_status
    from {{ ref('order_status_map') }}
    group by {{ normalized_status('shop_status') }}
),

current_orders as (
    select
        *,
        -- a missing status means completed (docs/metrics.md#inputs)
        coalesce(nullif(lower(trim(status)), ''), 'completed') as shop_status
    from ranked
    where version_rank = 1
      and ordered_at < {{ as_of_end_utc() }}
)

select
    o.order_id,
    nullif(trim(o.customer_id), '') as customer_id,
    o.ordered_at,
    o.total_amount,
    o.shop_status,
    -- canonical as sent, else mapped, else the shop's status as sent (and not known)
    case
        when {{ normalized_status('o.shop_status') }} in {{ canonical_order_statuses() }}
            then {{ normalized_status('o.shop_status') }}
        else coalesce(m.mapped_status, o.shop_status)
    end as status,
    {{ normalized_status('o.shop_status') }} in {{ canonical_order_statuses() }}
        or m.mapped_status is not null as is_known_status,
    upper(o.currency) as currency,
    coalesce(o.discount_amount, 0) as discount_amount,
    o.refunded_amount,
    nullif(trim(o.coupon_code), '') as coupon_code,
    coalesce(nullif(lower(trim(o.channel)), ''), 'unknown') as channel,
    -- a shipment or delivery after the as-of day had not happened yet on that day
    case when o.shipped_at < {{ as_of_end_utc() }} then o.shipped_at end as shipped_at,
    case when o.delivered_at < {{ as_of_end_utc() }} then o.delivered_at end as delivered_at,
    o.promised_delivery_date,
    o.updated_at
from current_orders as o
left join status_map as m
    on m.status_key = {{ normalized_status('o.shop_status') }}
