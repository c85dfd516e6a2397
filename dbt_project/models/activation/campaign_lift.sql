-- Does a campaign bring customers back? Treated vs control, per campaign and trigger week (ISO
-- week, Monday, of the contact's as-of date), from the contact log up to the as-of date:
-- - treated = customers logged `queued`, control = `holdout` (stable groups); a customer contacted
--   several times in a week counts once, from the first contact of the week (the trigger date);
-- - repurchased = a valid purchase occasion after the trigger date and at most
--   lift_attribution_days (default 30) after it;
-- - absolute_lift = p1 - p0; relative_lift = (p1 - p0) / p0 (null when p0 = 0);
-- - 95 % Wald interval of p1 - p0: (p1 - p0) +/- 1.959964 sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0),
--   null when either group is empty;
-- - is_mature: every window of the week is over (week start + 6 + attribution days <= as-of date).
{%- set window = run_var('lift_attribution_days', 30) | int %}
with contacts as (
    select
        campaign,
        customer_id,
        state,
        trigger_week,
        min(as_of_date) as trigger_date
    from (
        select campaign, customer_id, state, as_of_date,
               {{ period_start('week', 'as_of_date') }} as trigger_week
        from {{ ref('contact_log') }}
        where as_of_date <= {{ act_day() }}
    ) as logged
    group by campaign, customer_id, state, trigger_week
),

repurchases as (
    select distinct c.campaign, c.customer_id, c.state, c.trigger_week
    from contacts as c
    join {{ ref('int_purchase_occasions') }} as o
        on o.customer_id = c.customer_id
        and o.occasion_date > c.trigger_date
        and o.occasion_date <= {{ add_days(window, 'c.trigger_date') }}
),

grouped as (
    select
        c.campaign,
        c.trigger_week,
        sum(case when c.state = 'queued' then 1 else 0 end) as treated_customers,
        sum(case when c.state = 'queued' and r.customer_id is not null then 1 else 0 end) as treated_repurchasers,
        sum(case when c.state = 'holdout' then 1 else 0 end) as control_customers,
        sum(case when c.state = 'holdout' and r.customer_id is not null then 1 else 0 end) as control_repurchasers
    from contacts as c
    left join repurchases as r
        on r.campaign = c.campaign
        and r.customer_id = c.customer_id
        and r.state = c.state
        and r.trigger_week = c.trigger_week
    group by c.campaign, c.trigger_week
),

rates as (
    select
        *,
        {{ share('treated_repurchasers', 'treated_customers') }} as treated_rate,
        {{ share('control_repurchasers', 'control_customers') }} as control_rate
    from grouped
),

lifts as (
    select
        *,
        treated_rate - control_rate as absolute_lift,
        1.959963984540054 * sqrt(
            treated_rate * (1 - treated_rate) / treated_customers
            + control_rate * (1 - control_rate) / control_customers
        ) as margin
    from rates
)

select
    campaign,
    trigger_week,
    cast(treated_customers as bigint) as treated_customers,
    cast(treated_repurchasers as bigint) as treated_repurchasers,
    treated_rate,
    cast(control_customers as bigint) as control_customers,
    cast(control_repurchasers as bigint) as control_repurchasers,
    control_rate,
    absolute_lift,
    case when control_rate > 0 then absolute_lift / control_rate end as relative_lift,
    absolute_lift - margin as lift_ci_low,
    absolute_lift + margin as lift_ci_high,
    {{ window }} as attribution_days,
    {{ add_days(6 + window, 'trigger_week') }} <= {{ act_day() }} as is_mature,
    {{ act_day() }} as as_of_date
from lifts
