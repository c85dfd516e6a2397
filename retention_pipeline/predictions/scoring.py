"""`marts.prediction_scores`: the as-of date's distinct (x, t_x, T) histories scored by the
purchase model selected in that day's recorded model run (marts.model_fit); the dbt model
`customer_predictions` joins them to the customers (models/predictions/scored).

The models are evaluated once per distinct history in numpy. churn_risk is a function of the
history's probabilities only, so it is decided here too; Gamma-Gamma's expected value is a closed
form of (x, monetary) that the dbt model computes from the day's fit. Without a selected purchase
model (data below the minimums, no usable fit) the table is written empty (with its columns), so
customer_predictions is empty; without a usable Gamma-Gamma fit its value columns are NULL.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from retention_pipeline.settings import Settings

from . import gamma_gamma as gamma_gamma_model
from .churn import check_band_thresholds, churn_risk_band
from .clv import clv
from .histories import AS_OF_PERIOD, Patterns, read_patterns
from .model_runs import StoredFit, fits_scoring
from .purchase_models import PURCHASE_MODELS, purchase_model
from .tables import PREDICTION_SCORES, write_rows

YEAR_DAYS = 365.0
CLV_PERIODS = 12  # monthly discounting over the 365 days


@dataclass(frozen=True)
class ScoringOutcome:
    rows: int  # customers scored
    reason: str = ""  # why nothing (or no value columns) was predicted; empty when all is there
    patterns: int = 0
    bands: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    model: str | None = None  # the purchase model that scored the rows
    selection_reason: str = ""
    fitted_for: dt.date | None = None  # the as-of date of the fit that scored the rows


def score_patterns(settings: Settings, as_of: dt.date) -> ScoringOutcome:
    """Write `marts.prediction_scores` for `as_of` from the fits recorded for that date (or the
    earlier fit still in force: model_runs.fit_in_force), on the histories of `as_of`."""
    check_band_thresholds(settings.churn_risk_high_below, settings.churn_risk_medium_below)
    fitted_for, fits = fits_scoring(settings, as_of)
    purchases = next(
        (f for name, f in fits.items() if name in PURCHASE_MODELS and f.selected and f.ok), None
    )
    if purchases is None:
        write_rows(settings, PREDICTION_SCORES, [])
        return ScoringOutcome(rows=0, reason=_no_purchase_model(fits, fitted_for))
    started = time.perf_counter()
    patterns = read_patterns(settings, as_of, AS_OF_PERIOD, purchases.unit_days)
    scores = _pattern_scores(purchases, patterns, settings)
    bands = churn_risk_band(scores[settings.churn_risk_basis],
                            high_below=settings.churn_risk_high_below,
                            medium_below=settings.churn_risk_medium_below)
    rows = pa.table({
        "as_of_date": pa.array([as_of] * len(patterns.x), pa.date32()),
        "x": patterns.x.astype(np.int64),
        "t_x_days": patterns.t_x_days,
        "t_days": patterns.t_days,
        "customers": patterns.customers.astype(np.int64),
        **scores,
        "churn_risk": pa.array(list(bands), pa.string()),
        "model": pa.array([purchases.model] * len(patterns.x), pa.string()),
    })
    write_rows(settings, PREDICTION_SCORES, rows)
    spend = fits.get(gamma_gamma_model.MODEL)
    return ScoringOutcome(
        rows=patterns.n_customers,
        reason="" if spend is not None and spend.ok else _no_value_model(spend),
        patterns=len(patterns.x),
        bands=_bands(bands, patterns.customers),
        totals=_totals(scores, patterns.customers),
        seconds=time.perf_counter() - started,
        model=purchases.model,
        selection_reason=purchases.selection_reason,
        fitted_for=fitted_for,
    )


def _pattern_scores(fit: StoredFit, p: Patterns, settings: Settings) -> dict[str, np.ndarray]:
    """Model outputs per distinct history; horizons in days become model time units."""
    unit = fit.unit_days
    params = fit.params
    model = purchase_model(fit.model)
    monthly_rate = (1.0 + settings.clv_discount_rate_annual) ** (1.0 / CLV_PERIODS) - 1.0
    no_purchase_in_horizon = model.p_no_purchase(
        params, settings.churn_risk_horizon_days / unit, p.x, p.t_x, p.T
    )
    return (
        {
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


def _bands(bands, customers: np.ndarray) -> dict[str, int]:
    labels = np.asarray(bands, dtype=object)
    return {band: int(customers[labels == band].sum()) for band in ("low", "medium", "high")}


def _totals(scores: dict[str, np.ndarray], customers: np.ndarray) -> dict[str, float]:
    """Customer-weighted totals; the value columns need each customer's spend, so they are the
    dbt model's (customer_predictions)."""
    if not customers.sum():
        return {}
    return {
        "mean_p_alive": float(np.dot(scores["p_alive"], customers) / customers.sum()),
        "expected_purchases_90d": float(np.dot(scores["expected_purchases_90d"], customers)),
        "expected_purchases_365d": float(np.dot(scores["expected_purchases_365d"], customers)),
    }
