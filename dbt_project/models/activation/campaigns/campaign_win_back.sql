{{ config(materialized='ephemeral') }}
-- win_back (marketing): days since the last purchase occasion >= max(win_back_min_days,
-- win_back_cycle_multiple x avg_days_between_occasions) (default max(60, 2x); the average is null
-- below two occasions, so one-time buyers lapse at 60 days). Customers with lifetime net revenue
-- >= win_back_high_value_revenue get their own variant, win_back_high_value. Both variants share
-- one dedupe key: no second win-back of either variant within win_back_cooldown_days (default 90).
with lapsed as (
    select
        customer_id,
        last_occasion_date,
        net_revenue,
        {{ dbt.datediff('last_occasion_date', act_day(), 'day') }} as days_since_last_order,
        greatest(
            {{ run_var('win_back_min_days', 60) | int }},
            cast(ceil({{ run_var('win_back_cycle_multiple', 2.0) | float }}
                      * coalesce(avg_days_between_occasions, 0)) as integer)
        ) as lapse_threshold_days
    from {{ ref('dim_customers') }}
    where last_occasion_date is not null
)

select
    customer_id,
    case when net_revenue >= {{ run_var('win_back_high_value_revenue', 1000.0) | float }}
         then 'win_back_high_value' else 'win_back' end as campaign,
    'win_back' as dedupe_key,
    {{ json_object([
        ('last_order_date', json_string('last_occasion_date')),
        ('days_since_last_order', json_number('days_since_last_order')),
        ('lapse_threshold_days', json_number('lapse_threshold_days')),
    ]) }} as context
from lapsed
where days_since_last_order >= lapse_threshold_days
