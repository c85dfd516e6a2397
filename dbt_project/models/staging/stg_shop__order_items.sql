-- Items have no version stamp: the lines of an order are those of the latest file that sent it.
with latest_load as (
    select
        *,
        dense_rank() over (
            partition by order_id order by _ingested_at desc, _source_file desc
        ) as load_rank
    from {{ source('raw', 'order_items') }}
)

select
    order_id,
    coalesce(line_id, cast(_source_line as {{ dbt.type_string() }}), product_id) as line_id,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as line_amount
from latest_load
where load_rank = 1
