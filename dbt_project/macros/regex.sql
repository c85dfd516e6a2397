{#- True when the whole of `expr` matches the regular expression `pattern` (a SQL string literal;
    write a literal '|' as [|], since Spark's string literals treat backslashes as escapes). -#}
{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ ('^(' || {{ pattern }} || ')$'))
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike concat('^(', {{ pattern }}, ')$'))
{%- endmacro %}
