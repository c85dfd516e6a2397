-- Every order up to the end of the as-of day, valid or not, with its occasion number.
-- Incremental by order: an incremental build recomputes the touched orders and every order of the
-- touched customers (a late or refunded order renumbers the customer's occasions), see
-- macros/incremental.sql.
{{ config(
    materialized=incremental_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed_orders() }}",
) }}
-- depends_on: {{ ref('touched_customers') }}, {{ ref('touched_orders') }}
select
    o.order_id,
    o.customer_id,
    o.ordered_at,
    o.ordered_at_local,
    o.order_date,
    o.status,
    o.shop_status,
    o.currency,
    o.total_amount,
    o.discount_amount,
    o.refunded_amount,
    o.net_amount,
    o.coupon_code,
    o.used_coupon,
    o.channel,
    o.shipped_at,
    o.delivered_at,
    o.delivered_date,
    o.promised_delivery_date,
    o.delivery_days,
    o.days_late,
    o.is_valid_purchase,
    o.invalid_reason,
    o.is_known_customer,
    p.occasion_seq
from {{ ref('int_orders') }} as o
left join {{ ref('int_purchase_occasions') }} as p
    on o.is_valid_purchase
    and o.customer_id = p.customer_id
    and o.order_date = p.occasion_date
{%- if recomputes_touched() %}
where {{ recomputed_orders('o.') }}
{%- endif %}
