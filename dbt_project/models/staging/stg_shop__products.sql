-- Products launching after the as-of day are kept: VIP early access announces them.
with ranked as (
    select
        *,
        {{ version_rank('product_id', 'updated_at') }} as version_rank
    from {{ source('raw', 'products') }}
)

select
    product_id,
    name as product_name,
    {{ product_category('category') }} as category,
    price,
    launched_at,
    updated_at
from ranked
where version_rank = 1
