-- Repurchase within H days by acquisition cohort (docs/metrics.md#repurchase-within-h-days): one row per cohort granularity,
-- cohort and window, for every cohort and window (repurchase_rate null while nobody has matured).
{%- set granularities = ['week', 'month'] %}

with members as (
    {%- for g in granularities %}
    select
        '{{ g }}' as cohort_granularity,
        {{ period_start(g, 'first_occasion_date') }} as cohort_start,
        customer_id,
        first_occasion_date,
        days_to_second_occasion
    from {{ ref('int_customer_purchases') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

flagged as (
    select
        m.cohort_granularity,
        m.cohort_start,
        w.window_days,
        m.days_to_second_occasion,
        case when {{ is_matured('m.first_occasion_date', 'w.window_days') }} then 1 else 0 end
            as is_matured,
        case
            when {{ is_matured('m.first_occasion_date', 'w.window_days') }}
                and {{ repurchased_within('m.days_to_second_occasion', 'w.window_days') }}
            then 1 else 0
        end as has_repurchased
    from members as m
    cross join ({{ repurchase_windows_relation() }}) as w
)

select
    cohort_granularity,
    cohort_start,
    window_days,
    count(*) as cohort_size,
    cast(sum(is_matured) as bigint) as matured_customers,
    cast(sum(has_repurchased) as bigint) as repurchased_customers,
    {{ share('sum(has_repurchased)', 'sum(is_matured)') }} as repurchase_rate,
    -- over the matured customers who repurchased within the window
    percentile_cont(0.5) within group (
        order by case when has_repurchased = 1 then days_to_second_occasion end
    ) as median_days_to_second
from flagged
group by cohort_granularity, cohort_start, window_days
