{#- `unique` on an incremental model that recomputes touched keys (`recomputed`: 'customers',
    'orders' or 'orders_and_customers'): an incremental build checks the rows it recomputed
    only, a full build every row (macros/incremental.sql, recomputed_scope). -#}
{% test unique_recomputed(model, column_name, recomputed) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
  and {{ recomputed_scope(recomputed) }}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
