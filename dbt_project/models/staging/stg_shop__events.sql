with ranked as (
    select
        *,
        row_number() over (
            partition by event_id order by _ingested_at desc, _source_file desc, _source_line desc
        ) as version_rank
    from {{ source('raw', 'events') }}
)

select
    event_id,
    lower(trim(event_type)) as event_type,
    occurred_at,
    nullif(trim(customer_id), '') as customer_id,
    properties
from ranked
where version_rank = 1
  and occurred_at < {{ as_of_end_utc() }}
