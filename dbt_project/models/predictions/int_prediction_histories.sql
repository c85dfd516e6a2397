-- Every customer's purchase history at the two observation ends of the purchase models
-- (docs/predictions.md): `as_of` (the fit and the scores) and `calibration` (the backtest). In
-- whole days, so that the patterns compare exactly on every engine; the Python fits divide by the
-- time unit. repeat_value is the exact sum of the repeat occasions' net amounts (the first
-- excluded): Gamma-Gamma's monetary value is repeat_value / x.
with occasions as (
    select
        customer_id,
        occasion_date,
        net_amount,
        row_number() over (partition by customer_id order by occasion_date) as occasion_number
    from {{ ref('int_purchase_occasions') }}
    -- dbt cuts at the as-of date already; a hand-made or later warehouse must not leak later days
    where occasion_date <= {{ as_of_date() }}
),

periods as (
    select 'as_of' as period, {{ as_of_date() }} as period_end
    union all
    select 'calibration' as period, {{ calibration_end_date() }} as period_end
),

histories as (
    select
        p.period,
        p.period_end,
        o.customer_id,
        count(*) as occasions,
        min(o.occasion_date) as first_occasion_date,
        max(o.occasion_date) as last_occasion_date,
        sum(case when o.occasion_number > 1 then o.net_amount else 0 end) as repeat_value
    from periods as p
    inner join occasions as o on o.occasion_date <= p.period_end
    group by p.period, p.period_end, o.customer_id
),

-- the backtest's actuals: occasions after the calibration end, up to the as-of date
holdout as (
    select customer_id, count(*) as holdout_occasions
    from occasions
    where occasion_date > {{ calibration_end_date() }}
    group by customer_id
)

select
    {{ as_of_date() }} as as_of_date,
    h.period,
    h.period_end,
    h.customer_id,
    h.occasions,
    h.occasions - 1 as x,
    {{ dbt.datediff('h.first_occasion_date', 'h.last_occasion_date', 'day') }} as t_x_days,
    {{ dbt.datediff('h.first_occasion_date', 'h.period_end', 'day') }} as t_days,
    h.repeat_value,
    h.first_occasion_date,
    h.last_occasion_date,
    case when h.period = 'calibration' then coalesce(ho.holdout_occasions, 0) end
        as holdout_occasions
from histories as h
left join holdout as ho on ho.customer_id = h.customer_id
