{{ config(materialized='ephemeral') }}
-- The products already announced to a customer by new_arrival or vip_early_access: their keys are
-- '<campaign>:<product_id>[,<product_id>...]' with up to 3 products.
{%- for part in [1, 2, 3] %}
select
    customer_id,
    campaign,
    {{ dbt.split_part("substr(dedupe_key, length(campaign) + 2) || ',,'", "','", part) }} as product_id
from {{ ref('activation_logged_keys') }}
where campaign in ('new_arrival', 'vip_early_access')
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
