{#- Fails on every row where one of the columns is null: the not_null test of many columns in one
    query (a mart's counts are never null; one scan instead of one per column). -#}
{% test not_null_columns(model, columns) %}
select *
from {{ model }}
where {% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
