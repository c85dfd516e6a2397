-- The distinct (x, t_x, T) histories and how many customers share each, per observation end:
-- all the purchase models see (their terms depend on nothing else), so the Python fits read a
-- few hundred thousand rows at most whatever the number of customers.
select
    as_of_date,
    period,
    period_end,
    x,
    t_x_days,
    t_days,
    count(*) as customers,
    sum(holdout_occasions) as holdout_occasions
from {{ ref('int_prediction_histories') }}
group by as_of_date, period, period_end, x, t_x_days, t_days
