{#- No two rows share the combination. `recomputed` ('customers', 'orders' or
    'orders_and_customers'): on an incremental model that recomputes those touched keys, an
    incremental build checks the rows it recomputed only (the rest was checked by the build that
    wrote it); a full build checks every row (macros/incremental.sql, recomputed_scope). -#}
{% test unique_combination_of_columns(model, combination_of_columns, recomputed=none) %}
select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
{%- if recomputed %}
where {{ recomputed_scope(recomputed) }}
{%- endif %}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
