"""`marts.model_backtest`: how well each purchase model (BG/NBD, Pareto/NBD) predicts repeat
purchases it has not seen.

The history up to the calibration end (a setting, else the as-of date minus the holdout days) is
the calibration period: each model is fitted on it exactly as for the predictions. The days after it,
up to the as-of date, are the holdout: for the customers of the calibration period, the model's
expected repeat purchases (occasions) in the holdout are set beside the actual ones, overall and
by the number of repeat occasions in the calibration period (0 … 6, 7+), the classic
conditional-expectation check of Fader, Hardie & Lee (2005). A cumulative curve over the
holdout (predicted vs actual, by day) feeds the plot shown in the Dagster UI.

`holdout_error` of a model, the figure `purchase_model = auto` chooses by, is the sum over the
calibration-frequency buckets of |predicted - actual| holdout repeat purchases: it counts both an
overall bias and purchases given to the wrong kind of customer (e.g. to one-time buyers instead
of regulars), which the overall total alone would let cancel out.

Like the other prediction tables, the history is kept across as-of dates: a run replaces the
rows of its own as-of date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from retention_pipeline.settings import Settings

from .fitting import ModelFit
from .histories import (
    AS_OF_PERIOD,
    CALIBRATION_PERIOD,
    Patterns,
    read_holdout_days,
    read_patterns,
)
from .model_runs import reused_fit
from .purchase_models import PURCHASE_MODELS, purchase_model
from .sufficiency import check_data
from .tables import MODEL_BACKTEST, time_unit_label, write_rows

TOP_BUCKET = 7  # repeat occasions of 7 or more share one bucket ("7+")
CURVE_POINTS = 24  # evaluation days of the predicted curve: smooth, and each costs a full pass


@dataclass(frozen=True)
class Curve:
    """Cumulative repeat purchases over the holdout, by day after the calibration end."""

    actual_days: np.ndarray  # days after the calibration end with their running actual total
    actual_cumulative: np.ndarray
    predicted_days: np.ndarray
    predicted_cumulative: np.ndarray


@dataclass(frozen=True)
class BacktestOutcome:
    as_of: dt.date
    calibration_end: dt.date
    unit_days: float
    fits: dict[str, ModelFit] = field(default_factory=dict)
    reason: str = ""  # why there is no backtest; empty when there is one
    fit_in_force: dt.date | None = None  # no backtest: an earlier fit scores the day
    rows: list[dict] = field(default_factory=list)  # every model's rows, with a "model" key
    curves: dict[str, Curve] = field(default_factory=dict)

    @property
    def holdout_days(self) -> int:
        return (self.as_of - self.calibration_end).days

    @property
    def models(self) -> list[str]:
        """The models with a backtest (their calibration fit succeeded)."""
        return list(self.curves)

    @property
    def fit(self) -> ModelFit | None:
        """The first model's calibration fit (BG/NBD when it succeeded)."""
        if self.models:
            return self.fits[self.models[0]]
        return next(iter(self.fits.values()), None)

    @property
    def curve(self) -> Curve | None:
        return next(iter(self.curves.values()), None)

    def overall_of(self, model: str) -> dict | None:
        return next(
            (r for r in self.rows if r["breakdown"] == "overall" and r["model"] == model), None
        )

    @property
    def overall(self) -> dict | None:
        return self.overall_of(self.models[0]) if self.models else None

    def holdout_errors(self) -> dict[str, float]:
        """Per model: sum over calibration-frequency buckets of |predicted - actual|."""
        errors: dict[str, float] = {}
        for row in self.rows:
            if row["breakdown"] == "calibration_frequency":
                errors[row["model"]] = errors.get(row["model"], 0.0) + abs(row["error"])
        return errors


def calibration_end(as_of: dt.date, settings: Settings) -> dt.date:
    if settings.backtest_calibration_end is not None:
        return settings.backtest_calibration_end
    return as_of - dt.timedelta(days=settings.backtest_holdout_days)


def run_backtest(settings: Settings, as_of: dt.date) -> BacktestOutcome:
    """Fit on the calibration period, compare with the holdout; nothing is written here."""
    end = calibration_end(as_of, settings)
    unit = settings.prediction_time_unit_days
    base = {"as_of": as_of, "calibration_end": end, "unit_days": unit}
    # the backtest chooses the purchase model of a new fit: none is made on the days between refits
    reused = reused_fit(settings, as_of)
    if reused is not None:
        return BacktestOutcome(**base, reason=reused.reason, fit_in_force=reused.fitted_for)
    current = read_patterns(settings, as_of, AS_OF_PERIOD, unit)
    if end >= as_of:
        return BacktestOutcome(
            **base, reason=f"calibration end {end} is not before the as-of date {as_of}"
        )
    data = check_data(current, as_of, settings)
    if not data.ok:
        return BacktestOutcome(**base, reason=f"no predictions for {as_of} ({data.status}): "
                               f"{data.reason}")
    patterns = read_patterns(settings, as_of, CALIBRATION_PERIOD, unit, period_end=end)
    holdout = (as_of - end).days / unit
    actual = _actual_by_bucket(patterns)
    fits, rows, curves, refused = {}, [], {}, []
    for model in PURCHASE_MODELS.values():
        fit = model.fit_patterns(patterns, settings)
        fits[model.name] = fit
        if not fit.ok:
            refused.append(f"{model.name} ({fit.status}): {fit.message}")
            continue
        predicted = model.expected_purchases(
            fit.params, holdout, patterns.x, patterns.t_x, patterns.T
        )
        rows += [{**row, "model": model.name} for row in _rows(patterns, predicted, actual)]
        curves[model.name] = _curve(settings, model.name, fit, patterns, end, as_of, unit)
    reason = "" if curves else f"calibration fit up to {end} refused: " + "; ".join(refused)
    return BacktestOutcome(**base, fits=fits, rows=rows, curves=curves, reason=reason)


def write_backtest(settings: Settings, outcome: BacktestOutcome) -> int:
    """Replace the as-of date's rows of `marts.model_backtest` (none when refused)."""
    unit = time_unit_label(outcome.unit_days)
    rows = [
        {
            "as_of_date": outcome.as_of,
            "calibration_end_date": outcome.calibration_end,
            "holdout_days": outcome.holdout_days,
            "time_unit": unit,
            **row,
        }
        for row in outcome.rows
    ]
    return write_rows(settings, MODEL_BACKTEST, rows, as_of=outcome.as_of)


def bucket_label(bucket: int) -> str:
    return f"{TOP_BUCKET}+" if bucket >= TOP_BUCKET else str(bucket)


def _actual_by_bucket(patterns: Patterns) -> dict[int, tuple[int, int]]:
    """{bucket: (customers, holdout occasions)} for the customers of the calibration period.

    Every holdout occasion of such a customer is a repeat purchase (their first is earlier).
    """
    buckets = np.minimum(patterns.x, TOP_BUCKET).astype(int)
    customers = np.bincount(buckets, weights=patterns.customers, minlength=TOP_BUCKET + 1)
    occasions = np.bincount(buckets, weights=patterns.holdout, minlength=TOP_BUCKET + 1)
    return {b: (int(customers[b]), int(occasions[b]))
            for b in range(TOP_BUCKET + 1) if customers[b]}


def _rows(
    patterns: Patterns, predicted: np.ndarray, actual: dict[int, tuple[int, int]]
) -> list[dict]:
    buckets = np.minimum(patterns.x, TOP_BUCKET).astype(int)
    predicted_by_bucket = np.bincount(
        buckets, weights=patterns.customers * predicted, minlength=TOP_BUCKET + 1
    )
    rows = [
        _row("overall", "all", -1, patterns.n_customers,
             sum(k for _, k in actual.values()), float(np.dot(patterns.customers, predicted)))
    ]
    for bucket in range(TOP_BUCKET + 1):
        customers, occasions = actual.get(bucket, (0, 0))
        if customers:
            rows.append(_row("calibration_frequency", bucket_label(bucket), bucket, customers,
                             occasions, float(predicted_by_bucket[bucket])))
    return rows


def _row(breakdown, bucket, order, customers, actual, predicted) -> dict:
    error = predicted - actual
    return {
        "breakdown": breakdown,
        "bucket": bucket,
        "bucket_order": order,
        "customers": int(customers),
        "actual_repeat_purchases": int(actual),
        "predicted_repeat_purchases": predicted,
        "error": error,
        "relative_error": error / actual if actual else None,
    }


def _curve(settings, model: str, fit: ModelFit, patterns: Patterns, end, as_of,
           unit: float) -> Curve:
    days = (as_of - end).days
    day, occasions = read_holdout_days(settings, as_of)
    actual_days = np.concatenate([[0], day])
    actual_cumulative = np.concatenate([[0], np.cumsum(occasions)])
    grid = np.unique(np.linspace(0, days, min(days, CURVE_POINTS) + 1).round())
    expected = purchase_model(model).expected_purchases(
        fit.params, grid[:, None] / unit, patterns.x, patterns.t_x, patterns.T
    )
    return Curve(actual_days, actual_cumulative, grid, expected @ patterns.customers)
