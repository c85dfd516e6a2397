{#- The day a run is for (docs/metrics.md#as-of-date). Data after the end of this local day is ignored. -#}
{% macro as_of_date() -%}
    cast('{{ run_var("as_of", run_started_at.strftime("%Y-%m-%d")) }}' as date)
{%- endmacro %}

{#- The reporting time zone, as a quoted SQL literal. -#}
{% macro reporting_tz() -%}
    '{{ run_var("reporting_tz", "UTC") }}'
{%- endmacro %}

{#- The first instant after the as-of day, as a naive UTC timestamp (the raw layer is naive UTC).
    Midnight of (as_of + 1) in the reporting time zone, converted to UTC. -#}
{% macro as_of_end_utc() -%}
    {%- set next_day = modules.datetime.date.fromisoformat(run_var("as_of", run_started_at.strftime("%Y-%m-%d"))) + modules.datetime.timedelta(days=1) -%}
    {{ local_to_utc("timestamp '" ~ next_day.isoformat() ~ " 00:00:00'") }}
{%- endmacro %}

{#- A naive timestamp in the reporting time zone as a naive UTC timestamp. -#}
{% macro local_to_utc(expr) -%}
    {{ return(adapter.dispatch('local_to_utc')(expr)) }}
{%- endmacro %}

{#- AT TIME ZONE: the same SQL on DuckDB and PostgreSQL. -#}
{% macro default__local_to_utc(expr) -%}
    (({{ expr }} at time zone {{ reporting_tz() }}) at time zone 'UTC')
{%- endmacro %}

{#- Spark's timestamps are instants shown in the session time zone (UTC, see profiles.yml). -#}
{% macro spark__local_to_utc(expr) -%}
    to_utc_timestamp({{ expr }}, {{ reporting_tz() }})
{%- endmacro %}

{#- A naive UTC timestamp column as a naive timestamp in the reporting time zone. -#}
{% macro to_local(column) -%}
    {{ return(adapter.dispatch('to_local')(column)) }}
{%- endmacro %}

{% macro default__to_local(column) -%}
    (({{ column }} at time zone 'UTC') at time zone {{ reporting_tz() }})
{%- endmacro %}

{% macro spark__to_local(column) -%}
    from_utc_timestamp({{ column }}, {{ reporting_tz() }})
{%- endmacro %}

{#- The minimum net amount of a valid purchase (docs/metrics.md#valid-purchase). -#}
{% macro min_order_value() -%}
    cast({{ run_var("min_order_value", 0) }} as decimal(18, 4))
{%- endmacro %}

{#- A pre-filter on a naive UTC timestamp column for rows of the local days as-of + first_offset
    … as-of + last_offset: the UTC instants from a day before the first to a day after the last
    (a time zone is less than 14 hours from UTC). Constant bounds on the bare column let an
    engine skip whole blocks of a large table by their min/max (DuckDB's zonemaps: the events
    arrive in time order), where the local-date condition alone reads every row. It selects a
    superset: the exact local-date condition must still follow. -#}
{% macro near_local_days(column, first_offset, last_offset=none) -%}
    {%- set as_of = modules.datetime.date.fromisoformat(run_var("as_of", run_started_at.strftime("%Y-%m-%d"))) -%}
    {%- set last = first_offset if last_offset is none else last_offset -%}
    {%- set lower = as_of + modules.datetime.timedelta(days=(first_offset | int) - 1) -%}
    {%- set upper = as_of + modules.datetime.timedelta(days=(last | int) + 2) -%}
    ({{ column }} >= cast('{{ lower.isoformat() }} 00:00:00' as {{ dbt.type_timestamp() }})
     and {{ column }} < cast('{{ upper.isoformat() }} 00:00:00' as {{ dbt.type_timestamp() }}))
{%- endmacro %}
