{#- Fails when an aggregate of the model differs from an aggregate of another relation, e.g. the
    cohort sizes of each granularity against the customers with an occasion.
    group_by: one expression; the check holds per group. group_values: groups that must all be
    present (a missing one counts as 0). only_when_populated: skip when the model is empty (marts
    that are empty without an optional input). -#}
{% test matches_aggregate(model, expression, compare_model, compare_expression, group_by=none,
                          group_values=none, where_clause=none, compare_where=none,
                          only_when_populated=false) %}
with actual as (
    select
        {% if group_by -%}
        cast({{ group_by }} as {{ dbt.type_string() }}) as group_key,
        {%- else -%}
        'all' as group_key,
        {%- endif %}
        {{ expression }} as actual_value
    from {{ model }}
    {%- if where_clause %}
    where {{ where_clause }}
    {%- endif %}
    {%- if group_by %}
    group by {{ group_by }}
    {%- endif %}
),

groups as (
    {%- if group_values %}
    {%- for value in group_values %}
    select '{{ value }}' as group_key {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- else %}
    select distinct group_key from actual
    {%- endif %}
),

expected as (
    select {{ compare_expression }} as expected_value
    from {{ compare_model }}
    {%- if compare_where %}
    where {{ compare_where }}
    {%- endif %}
)

select g.group_key, a.actual_value, e.expected_value
from groups as g
left join actual as a on a.group_key = g.group_key
cross join expected as e
where coalesce(a.actual_value, 0) <> coalesce(e.expected_value, 0)
{%- if only_when_populated %}
  and exists (select 1 from {{ model }})
{%- endif %}
{% endtest %}
