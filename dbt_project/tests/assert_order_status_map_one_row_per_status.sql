-- Two rows of seeds/order_status_map.csv for one status (after lower-casing and '-' -> '_')
-- would leave the mapping to chance: each such status is a failing row.
select {{ normalized_status('shop_status') }} as status_key, count(*) as rows_for_status
from {{ ref('order_status_map') }}
group by {{ normalized_status('shop_status') }}
having count(*) > 1
