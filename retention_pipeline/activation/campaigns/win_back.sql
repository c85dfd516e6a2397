-- win_back (marketing): days since the last purchase occasion >= max($min_days,
-- $cycle_multiple x avg_days_between_occasions) (default max(60, 2x); the average is null below two
-- occasions, so one-time buyers lapse at 60 days). Customers with lifetime net revenue >=
-- $high_value_revenue get their own variant, win_back_high_value. Both variants share one dedupe
-- key: no second win-back of either variant within win_back_cooldown_days (default 90).
with lapsed as (
    select
        customer_id,
        last_occasion_date,
        net_revenue,
        $as_of - last_occasion_date as days_since_last_order,
        greatest(
            $min_days,
            cast(ceil($cycle_multiple * coalesce(avg_days_between_occasions, 0)) as integer)
        ) as lapse_threshold_days
    from marts.dim_customers
    where last_occasion_date is not null
)

select
    customer_id,
    case when net_revenue >= $high_value_revenue then 'win_back_high_value' else 'win_back' end
        as campaign,
    'win_back' as dedupe_key,
    json_object(
        'last_order_date', last_occasion_date,
        'days_since_last_order', days_since_last_order,
        'lapse_threshold_days', lapse_threshold_days
    )::varchar as context
from lapsed
where days_since_last_order >= lapse_threshold_days
