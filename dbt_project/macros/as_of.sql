{#- The day a run is for (docs/metrics.md#as-of-date). Data after the end of this local day is ignored. -#}
{% macro as_of_date() -%}
    cast('{{ var("as_of", run_started_at.strftime("%Y-%m-%d")) }}' as date)
{%- endmacro %}

{#- The reporting time zone, as a quoted SQL literal. -#}
{% macro reporting_tz() -%}
    '{{ var("reporting_tz", "UTC") }}'
{%- endmacro %}

{#- The first instant after the as-of day, as a naive UTC timestamp (the raw layer is naive UTC).
    Midnight of (as_of + 1) in the reporting time zone, converted to UTC. -#}
{% macro as_of_end_utc() -%}
    {%- set next_day = modules.datetime.date.fromisoformat(var("as_of", run_started_at.strftime("%Y-%m-%d"))) + modules.datetime.timedelta(days=1) -%}
    ((timestamp '{{ next_day.isoformat() }} 00:00:00' at time zone {{ reporting_tz() }}) at time zone 'UTC')
{%- endmacro %}

{#- A naive UTC timestamp column as a naive timestamp in the reporting time zone.
    Written with AT TIME ZONE so the same SQL runs on DuckDB and PostgreSQL. -#}
{% macro to_local(column) -%}
    (({{ column }} at time zone 'UTC') at time zone {{ reporting_tz() }})
{%- endmacro %}

{#- The minimum net amount of a valid purchase (docs/metrics.md#valid-purchase). -#}
{% macro min_order_value() -%}
    cast({{ var("min_order_value", 0) }} as decimal(18, 4))
{%- endmacro %}
