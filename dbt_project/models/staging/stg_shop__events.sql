-- Events are immutable and ingestion keeps one row per event_id (exact re-sends are dropped,
-- conflicting ones quarantined), so no version ranking is needed on the largest table; the
-- `unique` test on event_id guards that promise.
select
    event_id,
    lower(trim(event_type)) as event_type,
    occurred_at,
    nullif(trim(customer_id), '') as customer_id,
    properties
from {{ source('raw', 'events') }}
where occurred_at < {{ as_of_end_utc() }}
