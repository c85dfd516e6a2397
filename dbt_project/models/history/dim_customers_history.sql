{#- One row per customer with an occasion and as-of date
    (docs/metrics.md#customer-history-and-segment-migration). A run replaces its own day and keeps every other: delete+insert by
    as_of_date (insert_overwrite of the day's partition on Spark), and never a full refresh, which
    would throw the earlier days away. -#}
{{ config(
    materialized='incremental',
    incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'delete+insert'),
    unique_key=(none if target.type == 'spark' else 'as_of_date'),
    partition_by=(['as_of_date'] if target.type == 'spark' else none),
    full_refresh=false,
) }}

-- the predictions of this as-of date only (customer_predictions is built for it just before)
with predictions as (
    select customer_id, p_alive
    from {{ ref('customer_predictions') }}
    where as_of_date = {{ as_of_date() }}
)

select
    d.customer_id,
    d.rfm_segment,
    d.member_tier,
    d.recency_days,
    d.occasions,
    d.net_revenue_365d,
    p.p_alive,
    {{ as_of_date() }} as as_of_date
from {{ ref('dim_customers') }} as d
left join predictions as p on p.customer_id = d.customer_id
where d.occasions > 0
