-- One row per purchase occasion and product category bought in it (from the lines of the
-- occasion's valid orders). category_rank 1 is the occasion's main category: the one with the
-- largest line amount, then the most units, then the name. Empty when the shop sends no items.
-- Incremental by customer (macros/incremental.sql).
{{ config(
    materialized=incremental_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_recomputed('customer_id', 'customers') }}",
) }}
-- depends_on: {{ ref('touched_customers') }}

with lines as (
    select
        i.customer_id,
        i.order_date as occasion_date,
        coalesce(p.category, 'uncategorized') as category,
        i.quantity,
        i.line_amount
    from {{ ref('int_order_lines') }} as i
    left join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
    where i.is_valid_purchase
    {{- only_recomputed('i.customer_id', 'customers') }}
),

per_category as (
    select
        customer_id,
        occasion_date,
        category,
        cast(coalesce(sum(quantity), 0) as bigint) as units,
        coalesce(sum(line_amount), 0) as line_amount
    from lines
    group by customer_id, occasion_date, category
)

select
    pc.customer_id,
    pc.occasion_date,
    occ.occasion_seq,
    pc.category,
    pc.units,
    pc.line_amount,
    row_number() over (
        partition by pc.customer_id, pc.occasion_date
        order by pc.line_amount desc, pc.units desc, pc.category
    ) as category_rank
from per_category as pc
inner join {{ ref('int_purchase_occasions') }} as occ
    on occ.customer_id = pc.customer_id
    and occ.occasion_date = pc.occasion_date
