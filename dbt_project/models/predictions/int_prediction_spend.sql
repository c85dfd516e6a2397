-- Gamma-Gamma's input: the distinct (x, repeat_value) of the repeat customers at the as-of date
-- and their counts. A negative repeat value (a hand-made warehouse with negative nets) never
-- reaches the model.
select
    as_of_date,
    x,
    repeat_value,
    count(*) as customers
from {{ ref('int_prediction_histories') }}
where period = 'as_of' and x > 0 and repeat_value >= 0
group by as_of_date, x, repeat_value
