-- The backtest's actual cumulative curve: per day after the calibration end, the occasions of the
-- customers of the calibration period (their first occasion on or before it).
with calibration_customers as (
    select customer_id
    from {{ ref('int_prediction_histories') }}
    where period = 'calibration'
)

select
    {{ as_of_date() }} as as_of_date,
    {{ dbt.datediff(calibration_end_date(), 'o.occasion_date', 'day') }} as day,
    count(*) as occasions
from {{ ref('int_purchase_occasions') }} as o
inner join calibration_customers as c on c.customer_id = o.customer_id
where o.occasion_date > {{ calibration_end_date() }} and o.occasion_date <= {{ as_of_date() }}
group by {{ dbt.datediff(calibration_end_date(), 'o.occasion_date', 'day') }}
