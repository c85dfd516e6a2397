{#- A product's category as staging shows it: trimmed, lower case, 'uncategorized' when empty. -#}
{% macro product_category(column) -%}
    coalesce(nullif(trim(lower({{ column }})), ''), 'uncategorized')
{%- endmacro %}
