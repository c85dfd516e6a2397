-- Every customer with an occasion up to the as-of date, scored (docs/predictions.md): the purchase
-- model's outputs per (x, t_x, T) history come from the Python fit (python_marts
-- prediction_scores, written for the as-of date with the model selected in model_fit); Gamma-
-- Gamma's expected value is a closed form of (x, monetary), computed here from that day's fit.
-- No selected model: no scores, so the table is empty. No Gamma-Gamma fit: values are NULL.
with histories as (
    select
        customer_id,
        occasions,
        x,
        t_x_days,
        t_days,
        first_occasion_date,
        last_occasion_date,
        case when x > 0 then cast(repeat_value as {{ type_double() }}) / x else 0 end as monetary
    from {{ ref('int_prediction_histories') }}
    where period = 'as_of'
),

scores as (
    select *
    from {{ python_mart('prediction_scores') }} as prediction_scores
    where as_of_date = {{ as_of_date() }}
),

spend as (
    -- one row; NULLs when Gamma-Gamma was not fitted for the day
    select
        max(case when parameter = 'p' then value end) as p,
        max(case when parameter = 'q' then value end) as q,
        max(case when parameter = 'gamma' then value end) as gamma
    from {{ python_mart('model_fit') }} as model_fit
    where as_of_date = {{ as_of_date() }} and model = 'gamma_gamma' and status = 'ok'
),

scored as (
    select
        h.customer_id,
        h.occasions,
        h.first_occasion_date,
        h.last_occasion_date,
        s.p_alive,
        s.p_purchase_in_horizon,
        s.p_no_purchase_90d,
        s.expected_purchases_90d,
        s.expected_purchases_365d,
        s.discounted_purchases_365d,
        s.churn_risk,
        s.model,
        -- gamma_gamma_expected_value: credibility mix of own and population mean
        sp.p * (sp.gamma + h.x * h.monetary) / (sp.p * h.x + sp.q - 1) as expected_order_value
    from histories as h
    inner join scores as s
        on s.x = h.x and s.t_x_days = h.t_x_days and s.t_days = h.t_days
    cross join spend as sp
)

select
    customer_id,
    {{ as_of_date() }} as as_of_date,
    p_alive,
    p_purchase_in_horizon,
    expected_purchases_90d,
    expected_purchases_365d,
    expected_order_value,
    expected_order_value * discounted_purchases_365d as predicted_clv_365d,
    -- last occasion + average days between occasions, rounded half up to a day
    -- (docs/metrics.md#predictions); in doubles, the same on every engine
    case when occasions >= 2 then
        cast({{ dbt.dateadd('day', 'cast(floor(cast(2 * ' ~ dbt.datediff('first_occasion_date', 'last_occasion_date', 'day') ~ ' + occasions - 1 as ' ~ type_double() ~ ') / (2 * (occasions - 1))) as integer)', 'last_occasion_date') }} as date)
    end as expected_next_order_date,
    churn_risk,
    p_no_purchase_90d,
    model
from scored
