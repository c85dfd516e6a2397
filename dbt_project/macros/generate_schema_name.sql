{#- Models land in exactly the schema they configure (`marts`, not `main_marts`):
    BI tools and other consumers query `marts.<table>` by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
