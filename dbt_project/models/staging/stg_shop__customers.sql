-- Incremental by customer_id: touched customers are recomputed from all their visible
-- versions (macros/incremental.sql).
{{ config(
    materialized=staging_materialization(),
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    pre_hook="{{ delete_touched(source('raw', 'customers'), 'customer_id', ['updated_at', 'created_at']) }}",
) }}

with ranked as (
    select
        *,
        {{ version_rank('customer_id', 'coalesce(updated_at, created_at)') }} as version_rank
    from {{ source('raw', 'customers') }}
    where {{ visible_batch(source('raw', 'customers')) }}
    {{- only_touched(source('raw', 'customers'), 'customer_id', ['updated_at', 'created_at']) }}
)

select
    customer_id,
    created_at,
    nullif(trim(email), '') as email,
    nullif(trim(phone), '') as phone,
    first_name,
    birthday,
    lower(gender) as gender,
    upper(country) as country,
    lower(language) as language,
    timezone,
    lower(acquisition_channel) as acquisition_channel,
    coalesce(accepts_email, false) as accepts_email,
    coalesce(accepts_sms, false) as accepts_sms,
    coalesce(accepts_push, false) as accepts_push,
    coalesce(accepts_wechat, false) as accepts_wechat,
    nullif(trim(wechat_openid), '') as wechat_openid,
    nullif(trim(push_token), '') as push_token,
    updated_at
from ranked
where version_rank = 1
  -- customers who registered after the as-of day do not exist yet for this run
  and (created_at is null or created_at < {{ as_of_end_utc() }})
