{#- A top-level key of an event's JSON `properties`, as text (null when absent). -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    (cast({{ column }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- Spark holds the JSON as a string column (retention_pipeline/targets/raw.py). -#}
{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- Text to a number, null when it is not one: one bad property must not fail the whole build. -#}
{% macro text_to_double(expr) -%}
    {{ return(adapter.dispatch('text_to_double')(expr)) }}
{%- endmacro %}

{% macro default__text_to_double(expr) -%}
    case when {{ expr }} ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then cast({{ expr }} as double precision) end
{%- endmacro %}

{% macro duckdb__text_to_double(expr) -%}
    try_cast({{ expr }} as double)
{%- endmacro %}

{% macro spark__text_to_double(expr) -%}
    try_cast({{ expr }} as double)
{%- endmacro %}

{#- Text to a boolean ('true'/'false', '1'/'0', 'yes'/'no'), null otherwise. -#}
{% macro text_to_boolean(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', 't', '1', 'yes', 'y') then true
        when lower(trim({{ expr }})) in ('false', 'f', '0', 'no', 'n') then false
    end
{%- endmacro %}
