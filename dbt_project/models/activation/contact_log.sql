-- The append-only history of contacts, read by caps and cooldowns: one row per message queued or
-- held out on an as-of date (suppressed candidates are not contacts; they stay in
-- campaign_candidates). Rows are only ever added, except that building a day again replaces that
-- day (the pre-hook clears it in the same transaction; on Spark the day is a partition, replaced
-- by insert_overwrite). `--full-refresh` never rebuilds it: the log is history, not derived data.
-- Its post-hooks keep contact_log_keys, each key's first contact day (macros/activation.sql).
{{ config(
    materialized='incremental',
    full_refresh=false,
    incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'append'),
    partition_by=(['as_of_date'] if target.type == 'spark' else none),
    file_format=('parquet' if target.type == 'spark' else none),
    pre_hook="{{ contact_log_clear_day() }}",
    post_hook=["{{ contact_log_keep_keys('schema') }}", "{{ contact_log_keep_keys('create') }}",
               "{{ contact_log_keep_keys('clear') }}", "{{ contact_log_keep_keys('insert') }}"],
) }}

select
    {%- for name, type in contact_log_columns() %}
    cast({{ name }} as {{ type }}) as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
from {{ ref('campaign_candidates') }}
where as_of_date = {{ act_day() }} and state in ('queued', 'holdout')
