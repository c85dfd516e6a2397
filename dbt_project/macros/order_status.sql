{#- A shop status as the status map compares it: trimmed, lower-case, '-' read as '_' (so
    `On-Hold`, `on-hold` and `on_hold` are one status). Portable SQL. -#}
{% macro normalized_status(expression) -%}
    replace(lower(trim({{ expression }})), '-', '_')
{%- endmacro %}

{#- The contract's order statuses (the ones a shop may send without mapping). -#}
{% macro canonical_order_statuses() -%}
    ('placed', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded', 'test')
{%- endmacro %}
