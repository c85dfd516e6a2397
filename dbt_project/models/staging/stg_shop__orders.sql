with ranked as (
    select
        *,
        {{ version_rank('order_id', 'coalesce(updated_at, ordered_at)') }} as version_rank
    from {{ source('raw', 'orders') }}
)

select
    order_id,
    nullif(trim(customer_id), '') as customer_id,
    ordered_at,
    total_amount,
    -- a missing status means completed (docs/metrics.md#inputs)
    coalesce(nullif(lower(trim(status)), ''), 'completed') as status,
    upper(currency) as currency,
    coalesce(discount_amount, 0) as discount_amount,
    refunded_amount,
    nullif(trim(coupon_code), '') as coupon_code,
    coalesce(nullif(lower(trim(channel)), ''), 'unknown') as channel,
    updated_at
from ranked
where version_rank = 1
  and ordered_at < {{ as_of_end_utc() }}
