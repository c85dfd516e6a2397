{{ config(materialized='ephemeral') }}
-- The dedupe keys each customer already "had" (queued or held out: control and treated repeat
-- alike) on days before the as-of date, from the contact log.
select distinct customer_id, campaign, dedupe_key
from {{ contact_log_before_as_of() }} as h
where state in ('queued', 'holdout')
