"""`marts.campaign_lift`: does a campaign bring customers back? Treated vs control, per trigger week.

For each campaign and trigger week (ISO week, Monday, of the contact's as-of date), from the
contact log up to the as-of date:
- treated = customers logged `queued`, control = customers logged `holdout` (stable groups, so a
  customer is in one of them); a customer contacted several times in a week counts once, from the
  first contact of the week (the trigger date);
- repurchased = a valid purchase occasion on a date after the trigger date and at most
  `lift_attribution_days` (default 30) after it;
- rates p1 (treated), p0 (control); absolute_lift = p1 - p0; relative_lift = (p1 - p0) / p0 (null
  when p0 = 0);
- 95 % interval of p1 - p0 by the normal approximation for a difference of two independent
  proportions (Wald): (p1 - p0) ± 1.959964 * sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0); null when
  either group is empty. It is crude for small groups or rates near 0 or 1 — read it with n1, n0.
- is_mature: every window of the week is over (week start + 6 + attribution days <= as-of date);
  until then the repurchases are still coming in.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb

from retention_pipeline.activation import contact_log, inputs
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings

CAMPAIGN_LIFT = "marts.campaign_lift"
Z_95 = 1.959963984540054


def difference_interval(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float, float]:
    """(p1 - p0, low, high): the Wald 95 % interval the SQL computes, for reference and tests."""
    p1, p0 = x1 / n1, x0 / n0
    margin = Z_95 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return p1 - p0, p1 - p0 - margin, p1 - p0 + margin


def build_campaign_lift(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date) -> int:
    inputs.check_required(con, {inputs.OCCASIONS})
    contact_log.ensure_table(con)
    execute(con, f"""
        create or replace table {CAMPAIGN_LIFT} as
        with contacts as (
            select
                campaign,
                customer_id,
                state,
                cast(date_trunc('week', as_of_date) as date) as trigger_week,
                min(as_of_date) as trigger_date
            from {contact_log.CONTACT_LOG}
            where as_of_date <= $as_of
            group by campaign, customer_id, state, date_trunc('week', as_of_date)
        ),
        outcomes as (
            select
                c.*,
                exists (
                    select 1 from {inputs.OCCASIONS} as o
                    where o.customer_id = c.customer_id
                      and o.occasion_date > c.trigger_date
                      and o.occasion_date <= c.trigger_date + $window
                ) as repurchased
            from contacts as c
        ),
        grouped as (
            select
                campaign,
                trigger_week,
                count(*) filter (where state = 'queued') as treated_customers,
                count(*) filter (where state = 'queued' and repurchased) as treated_repurchasers,
                count(*) filter (where state = 'holdout') as control_customers,
                count(*) filter (where state = 'holdout' and repurchased) as control_repurchasers
            from outcomes
            group by campaign, trigger_week
        ),
        rates as (
            select
                *,
                treated_repurchasers / nullif(treated_customers, 0)::double as treated_rate,
                control_repurchasers / nullif(control_customers, 0)::double as control_rate
            from grouped
        ),
        lifts as (
            select
                *,
                treated_rate - control_rate as absolute_lift,
                {Z_95} * sqrt(
                    treated_rate * (1 - treated_rate) / treated_customers
                    + control_rate * (1 - control_rate) / control_customers
                ) as margin
            from rates
        )
        select
            campaign,
            trigger_week,
            treated_customers,
            treated_repurchasers,
            treated_rate,
            control_customers,
            control_repurchasers,
            control_rate,
            absolute_lift,
            case when control_rate > 0 then absolute_lift / control_rate end as relative_lift,
            absolute_lift - margin as lift_ci_low,
            absolute_lift + margin as lift_ci_high,
            cast($window as integer) as attribution_days,
            trigger_week + 6 + $window <= $as_of as is_mature,
            cast($as_of as date) as as_of_date
        from lifts
        order by campaign, trigger_week
    """, {"as_of": as_of, "window": settings.lift_attribution_days})
    return int(con.execute(f"select count(*) from {CAMPAIGN_LIFT}").fetchone()[0])
