{#- Fails on every row whose value is larger than the previous row's within its partition
    (e.g. customers active in period k or later can only shrink as k grows). -#}
{% test non_increasing(model, column_name, partition_by, order_by) %}
select *
from (
    select
        {{ column_name }} as current_value,
        lag({{ column_name }}) over (partition by {{ partition_by }} order by {{ order_by }})
            as previous_value
    from {{ model }}
) as ordered
where current_value > previous_value
{% endtest %}
