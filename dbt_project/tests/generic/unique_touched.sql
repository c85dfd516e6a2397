{#- `unique`, scoped in an incremental build to the keys touched since the last build (the rest
    was checked by the build that wrote it); a full build checks every row. On the largest
    staging table this keeps a daily test's cost to the day's rows. -#}
{% test unique_touched(model, column_name, raw_table, timestamps=[]) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
  and {{ touched_test_scope(source('raw', raw_table), column_name, timestamps) }}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
