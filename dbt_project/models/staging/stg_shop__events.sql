-- Incremental by event_id: an incremental build adds the events loaded or come of age since
-- the last build (macros/incremental.sql); events never change, so no touched row leaves.
{{ config(
    materialized=staging_materialization(),
    unique_key='event_id',
    incremental_strategy='delete+insert',
) }}
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
  and {{ visible_batch(source('raw', 'events')) }}
  {{- only_touched(source('raw', 'events'), 'event_id', ['occurred_at']) }}
