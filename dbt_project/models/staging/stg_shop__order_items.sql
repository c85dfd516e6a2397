-- Incremental by order_id: the lines of a touched order are replaced by those of its latest
-- visible file (macros/incremental.sql).
{{ config(
    materialized=staging_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_touched(source('raw', 'order_items'), 'order_id', []) }}",
) }}

-- Items have no version stamp: the lines of an order are those of the latest file that sent it.
with latest_load as (
    select
        *,
        dense_rank() over (
            partition by order_id order by _ingested_at desc, _source_file desc
        ) as load_rank
    from {{ source('raw', 'order_items') }}
    where {{ visible_batch(source('raw', 'order_items')) }}
    {{- only_touched(source('raw', 'order_items'), 'order_id') }}
)

select
    order_id,
    -- Without a line id a product is one line of its order (the ingestion key): no file line
    -- numbers, which a database read has not got.
    coalesce(line_id, product_id) as line_id,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as line_amount
from latest_load
where load_rank = 1
