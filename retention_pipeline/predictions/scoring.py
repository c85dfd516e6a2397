"""`marts.customer_predictions`: every customer with an occasion, scored with the as-of date's
recorded model run (marts.model_fit) by the purchase model selected there (column `model`).

Set-based: the per-customer summary is a DuckDB temp table; the models are evaluated once per
distinct (x, t_x, T) history in numpy; that small result is registered as an Arrow table and
joined back in one CREATE TABLE AS. Gamma-Gamma's expected value is a closed form of (x,
monetary), so it is computed in the same SQL. Without a selected purchase model (data below the
minimums, no usable fit) the table is written empty (with its columns); without a usable
Gamma-Gamma fit the value columns are NULL.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from retention_pipeline.settings import Settings

from . import gamma_gamma as gamma_gamma_model
from .churn import check_band_thresholds
from .clv import clv
from .histories import Patterns, create_summary, fetch_patterns
from .model_runs import StoredFit, read_model_fit
from .purchase_models import PURCHASE_MODELS, purchase_model
from .tables import CUSTOMER_PREDICTIONS, OCCASIONS, column_list, empty_table

SUMMARY = "_scoring_summary"
PATTERN_SCORES = "_scoring_patterns"
YEAR_DAYS = 365.0
CLV_PERIODS = 12  # monthly discounting over the 365 days


@dataclass(frozen=True)
class ScoringOutcome:
    rows: int
    reason: str = ""  # why nothing (or no value columns) was predicted; empty when all is there
    patterns: int = 0
    bands: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    model: str | None = None  # the purchase model that scored the rows
    selection_reason: str = ""


def score_customers(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings
) -> ScoringOutcome:
    """Write `marts.customer_predictions` for `as_of` from the fits recorded for that date."""
    check_band_thresholds(settings.churn_risk_high_below, settings.churn_risk_medium_below)
    fits = read_model_fit(con, as_of)
    purchases = next(
        (f for name, f in fits.items() if name in PURCHASE_MODELS and f.selected and f.ok), None
    )
    if purchases is None:
        empty_table(con, CUSTOMER_PREDICTIONS)
        return ScoringOutcome(rows=0, reason=_no_purchase_model(fits, as_of))
    started = time.perf_counter()
    create_summary(con, SUMMARY, as_of, purchases.unit_days)
    patterns = fetch_patterns(con, SUMMARY)
    scores = _pattern_scores(purchases, patterns, settings)
    spend = fits.get(gamma_gamma_model.MODEL)
    con.register(PATTERN_SCORES, scores)
    try:
        con.execute(
            f"create or replace table {CUSTOMER_PREDICTIONS} as "
            + _predictions_sql(as_of, spend, settings, purchases.model)
        )
    finally:
        con.unregister(PATTERN_SCORES)
        con.execute(f"drop table if exists {SUMMARY}")
    return ScoringOutcome(
        rows=_count(con),
        reason="" if spend is not None and spend.ok else _no_value_model(spend),
        patterns=len(patterns.x),
        bands=_bands(con),
        totals=_totals(con),
        seconds=time.perf_counter() - started,
        model=purchases.model,
        selection_reason=purchases.selection_reason,
    )


def _pattern_scores(fit: StoredFit, p: Patterns, settings: Settings) -> pa.Table:
    """Model outputs per distinct history; horizons in days become model time units."""
    unit = fit.unit_days
    params = fit.params
    model = purchase_model(fit.model)
    monthly_rate = (1.0 + settings.clv_discount_rate_annual) ** (1.0 / CLV_PERIODS) - 1.0
    no_purchase_in_horizon = model.p_no_purchase(
        params, settings.churn_risk_horizon_days / unit, p.x, p.t_x, p.T
    )
    return pa.table(
        {
            "x": p.x,
            "t_x": p.t_x,
            "T": p.T,
            "p_alive": model.p_alive(params, p.x, p.t_x, p.T),
            "p_purchase_in_horizon": 1.0 - no_purchase_in_horizon,
            "p_no_purchase_90d": model.p_no_purchase(params, 90 / unit, p.x, p.t_x, p.T),
            "expected_purchases_90d": model.expected_purchases(params, 90 / unit, p.x, p.t_x, p.T),
            "expected_purchases_365d": model.expected_purchases(
                params, YEAR_DAYS / unit, p.x, p.t_x, p.T
            ),
            # discounted purchases in the next 365 days: CLV per unit of order value
            "discounted_purchases_365d": clv(
                params,
                p.x,
                p.t_x,
                p.T,
                1.0,
                periods=CLV_PERIODS,
                period_length=YEAR_DAYS / CLV_PERIODS / unit,
                discount_rate=monthly_rate,
                expected_purchases=model.expected_purchases,
            ),
        }
    )


def _predictions_sql(
    as_of: dt.date, spend: StoredFit | None, settings: Settings, model: str
) -> str:
    day = f"date '{as_of.isoformat()}'"
    if spend is not None and spend.ok:
        p, q, gamma = (_double(spend.params[n]) for n in gamma_gamma_model.PARAM_NAMES)
        # gamma_gamma_expected_value (note 025 eq. 5): credibility mix of own and population mean
        value = f"{p} * ({gamma} + s.x * coalesce(s.monetary, 0)) / ({p} * s.x + {q} - 1)"
    else:
        value = "cast(null as double)"
    high, medium = _double(settings.churn_risk_high_below), _double(settings.churn_risk_medium_below)
    basis = settings.churn_risk_basis  # a Literal: safe to put in the SQL
    return f"""
with dates as (
    select
        customer_id,
        count(*) as occasions,
        min(occasion_date) as first_occasion_date,
        max(occasion_date) as last_occasion_date
    from {OCCASIONS}
    where occasion_date <= {day}
    group by customer_id
),
scored as (
    select
        s.customer_id,
        ps.p_alive,
        ps.p_purchase_in_horizon,
        ps.p_no_purchase_90d,
        ps.expected_purchases_90d,
        ps.expected_purchases_365d,
        {value} as expected_order_value,
        ps.discounted_purchases_365d
    from {SUMMARY} as s
    join {PATTERN_SCORES} as ps
        on s.x = ps.x and s.t_x = ps.t_x and s."T" = ps."T"
),
predictions as (
    select
        sc.customer_id,
        {day} as as_of_date,
        sc.p_alive,
        sc.p_purchase_in_horizon,
        sc.expected_purchases_90d,
        sc.expected_purchases_365d,
        sc.expected_order_value,
        sc.expected_order_value * sc.discounted_purchases_365d as predicted_clv_365d,
        -- last occasion + average days between occasions (docs/metrics.md#predictions), to the
        -- nearest day
        case when d.occasions >= 2 then
            d.last_occasion_date + cast(round(
                date_diff('day', d.first_occasion_date, d.last_occasion_date) / (d.occasions - 1)
            ) as integer)
        end as expected_next_order_date,
        case
            when sc.{basis} < {high} then 'high'
            when sc.{basis} < {medium} then 'medium'
            else 'low'
        end as churn_risk,
        sc.p_no_purchase_90d,
        '{model}' as model
    from scored as sc
    join dates as d on d.customer_id = sc.customer_id
)
select {column_list(CUSTOMER_PREDICTIONS)} from predictions
"""


def _double(value: float) -> str:
    # repr round-trips a float exactly; the cast keeps DuckDB from treating it as a DECIMAL.
    return f"cast('{float(value)!r}' as double)"


def _no_purchase_model(fits: dict[str, StoredFit], as_of: dt.date) -> str:
    purchase = [f for name, f in fits.items() if name in PURCHASE_MODELS]
    if not purchase:
        return (
            f"no purchase-model run recorded in marts.model_fit for {as_of}: materialize "
            "marts/model_fit for this date first"
        )
    reason = next((f.selection_reason for f in purchase if f.selection_reason), "")
    details = "; ".join(f"{f.model}: {f.status} ({f.message})" for f in purchase if not f.ok)
    return "no purchase model selected; no predictions written" + "".join(
        f" - {part}" for part in (reason, details) if part
    )


def _no_value_model(fit: StoredFit | None) -> str:
    detail = "no run recorded" if fit is None else f"{fit.status}: {fit.message}"
    return (
        f"Gamma-Gamma not fitted ({detail}); expected_order_value and predicted_clv_365d are NULL"
    )


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"select count(*) from {CUSTOMER_PREDICTIONS}").fetchall()[0][0])


def _bands(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        f"select churn_risk, count(*) from {CUSTOMER_PREDICTIONS} group by 1"
    ).fetchall()
    counts = dict(rows)
    return {band: int(counts.get(band, 0)) for band in ("low", "medium", "high")}


def _totals(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    row = con.execute(
        f"""select avg(p_alive), sum(expected_purchases_90d), sum(expected_purchases_365d),
                   avg(expected_order_value), sum(predicted_clv_365d)
            from {CUSTOMER_PREDICTIONS}"""
    ).fetchall()[0]
    names = (
        "mean_p_alive",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "mean_expected_order_value",
        "predicted_clv_365d",
    )
    return {n: float(v) for n, v in zip(names, row) if v is not None}
