{#- Calendar periods of the retention marts (docs/metrics.md#cohort): ISO weeks starting Monday, calendar months,
    and days. Built on dbt's cross-database macros so the marts run on Postgres too. -#}

{#- The start of the period holding a date, as a date. -#}
{% macro period_start(granularity, date_expr) -%}
    {%- if granularity == 'day' -%}
        cast({{ date_expr }} as date)
    {%- else -%}
        cast({{ dbt.date_trunc(granularity, date_expr) }} as date)
    {%- endif -%}
{%- endmacro %}

{#- Whole periods from one period start to another (both must be period starts). Weeks are counted
    as days / 7 because the adapters' week datediff counts Sunday boundaries, not ISO weeks. -#}
{% macro periods_between(granularity, from_start, to_start) -%}
    {%- if granularity == 'week' -%}
        cast({{ dbt.datediff(from_start, to_start, 'day') }} / 7 as integer)
    {%- else -%}
        cast({{ dbt.datediff(from_start, to_start, granularity) }} as integer)
    {%- endif -%}
{%- endmacro %}

{#- A date `n` periods after a date. -#}
{% macro add_periods(granularity, n, date_expr) -%}
    cast({{ dbt.dateadd(granularity, n, date_expr) }} as date)
{%- endmacro %}

{#- A date `n` days after a date. -#}
{% macro add_days(n, date_expr) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}

{#- A subquery of integers 0..upper_bound (a SQL expression, may be a scalar subquery) in column `n`;
    no rows when the bound is null. The spine of every "zeros included" mart. -#}
{% macro integer_series(upper_bound) -%}
    {{ return(adapter.dispatch('integer_series')(upper_bound)) }}
{%- endmacro %}

{% macro default__integer_series(upper_bound) -%}
    select generate_series(0, cast(({{ upper_bound }}) as integer)) as n
{%- endmacro %}

{% macro duckdb__integer_series(upper_bound) -%}
    select unnest(generate_series(0, cast(({{ upper_bound }}) as bigint))) as n
{%- endmacro %}

{#- sequence(0, null) is null and explodes to no rows, as the other engines' empty series. -#}
{% macro spark__integer_series(upper_bound) -%}
    select explode(sequence(0, cast(({{ upper_bound }}) as int))) as n
{%- endmacro %}

{#- The same for a granularity held in a column ('day', 'week', 'month'): one CASE branch each. -#}
{% macro period_start_of(granularity_column, date_expr) -%}
    case {{ granularity_column }}
        {%- for g in ['day', 'week', 'month'] %}
        when '{{ g }}' then {{ period_start(g, date_expr) }}
        {%- endfor %}
    end
{%- endmacro %}

{% macro periods_between_of(granularity_column, from_start, to_start) -%}
    case {{ granularity_column }}
        {%- for g in ['day', 'week', 'month'] %}
        when '{{ g }}' then {{ periods_between(g, from_start, to_start) }}
        {%- endfor %}
    end
{%- endmacro %}

{% macro add_periods_of(granularity_column, n, date_expr) -%}
    case {{ granularity_column }}
        {%- for g in ['day', 'week', 'month'] %}
        when '{{ g }}' then {{ add_periods(g, n, date_expr) }}
        {%- endfor %}
    end
{%- endmacro %}

{#- The last day of the period starting at period_start. -#}
{% macro period_end_of(granularity_column, period_start_expr) -%}
    {{ add_days(-1, add_periods_of(granularity_column, 1, period_start_expr)) }}
{%- endmacro %}

{#- A share as a double (integer division must not truncate on Postgres); null when the whole is 0. -#}
{% macro share(part, whole) -%}
    (cast({{ part }} as {{ type_double() }}) / nullif({{ whole }}, 0))
{%- endmacro %}

{#- An 8-byte float type (dbt.type_float is 4 bytes on some engines). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}

{#- A number of days rounded to whole days, a half up (32.5 -> 33) on every engine: round() of a
    double rounds a half to even on PostgreSQL (32.5 -> 32) and away from zero on DuckDB. -#}
{% macro round_days(days) -%}
    cast(floor(({{ days }}) + 0.5) as integer)
{%- endmacro %}
