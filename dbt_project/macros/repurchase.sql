{#- Repurchase windows in days (docs/metrics.md#repurchase-within-h-days); a project var can change them. -#}
{% macro repurchase_windows() -%}
    {{ return(var('repurchase_windows', [30, 60, 90, 180, 365])) }}
{%- endmacro %}

{#- The windows as a one-column relation `window_days`. -#}
{% macro repurchase_windows_relation() -%}
    {%- for days in repurchase_windows() %}
    select {{ days }} as window_days {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- docs/metrics.md#repurchase-within-h-days: a customer is matured for H days when first_occasion_date + H <= as-of date. -#}
{% macro is_matured(first_occasion_date, window_days) -%}
    ({{ add_days(window_days, first_occasion_date) }} <= {{ as_of_date() }})
{%- endmacro %}

{#- docs/metrics.md#repurchase-within-h-days: a second occasion on a later date, at most H days after the first. -#}
{% macro repurchased_within(days_to_second, window_days) -%}
    ({{ days_to_second }} is not null and {{ days_to_second }} <= {{ window_days }})
{%- endmacro %}

{#- The repurchase window of product_quality's first-buyer columns (first_buyers_…_90d). -#}
{% macro product_quality_window_days() -%}
    {{- return(90) -}}
{%- endmacro %}
