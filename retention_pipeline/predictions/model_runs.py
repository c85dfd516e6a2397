"""One model run for an as-of date: BG/NBD and Gamma-Gamma fitted on the warehouse's occasions,
recorded in `marts.model_fit` and read back by the scoring.

`marts.model_fit` keeps the history of runs: one row per (as_of_date, model, parameter); a run
replaces the rows of its own as-of date and keeps the others. A model that could not be fitted
(too few customers, no convergence, ...) has one row with parameter NULL and the status and
message saying why, so the history shows the refused runs too.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import duckdb

from retention_pipeline.settings import Settings

from . import bgnbd, gamma_gamma
from .bgnbd import fit_bgnbd
from .fitting import ModelFit
from .gamma_gamma import fit_gamma_gamma
from .histories import create_summary, fetch_patterns, fetch_spend
from .tables import MODEL_FIT, relation_exists, replace_as_of_rows, time_unit_label

SUMMARY = "_model_fit_summary"
MODELS = (bgnbd.MODEL, gamma_gamma.MODEL)


@dataclass(frozen=True)
class ModelRun:
    as_of: dt.date
    unit_days: float
    bgnbd: ModelFit
    gamma_gamma: ModelFit
    customers: int
    repeat_customers: int
    seconds: float

    def fits(self) -> tuple[ModelFit, ModelFit]:
        return self.bgnbd, self.gamma_gamma


def fit_models(con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: Settings) -> ModelRun:
    """Fit both models on every customer's history up to the end of the as-of day."""
    unit = settings.prediction_time_unit_days
    create_summary(con, SUMMARY, as_of, unit)
    started = time.perf_counter()
    patterns = fetch_patterns(con, SUMMARY)
    purchases = fit_bgnbd(
        patterns.x,
        patterns.t_x,
        patterns.T,
        weights=patterns.customers,
        min_customers=settings.min_customers_to_fit,
        min_repeat_customers=settings.min_repeat_customers_to_fit,
    )
    spend_rows = fetch_spend(con, SUMMARY)
    spend = fit_gamma_gamma(
        spend_rows.x,
        spend_rows.monetary,
        weights=spend_rows.customers,
        min_repeat_customers=settings.min_repeat_customers_to_fit,
    )
    seconds = time.perf_counter() - started
    con.execute(f"drop table if exists {SUMMARY}")
    return ModelRun(
        as_of=as_of,
        unit_days=unit,
        bgnbd=purchases,
        gamma_gamma=spend,
        customers=patterns.n_customers,
        repeat_customers=patterns.n_repeat_customers,
        seconds=seconds,
    )


def fit_rows(run: ModelRun) -> list[dict]:
    """The rows of `marts.model_fit` for a run: one per parameter, one per refused model."""
    fitted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    common = {
        "as_of_date": run.as_of,
        "time_unit": time_unit_label(run.unit_days),
        "time_unit_days": float(run.unit_days),
        "fitted_at": fitted_at,
    }
    rows = []
    for fit in run.fits():
        shared = {
            **common,
            "model": fit.model,
            "customers": fit.n_customers,
            "converged": fit.converged,
            "status": fit.status,
            "message": fit.message,
            "iterations": fit.iterations,
            "log_likelihood": fit.log_likelihood,
        }
        if fit.ok:
            rows += [
                {**shared, "parameter": name, "value": value} for name, value in fit.params.items()
            ]
        else:
            rows.append({**shared, "parameter": None, "value": None})
    return rows


def write_model_fit(con: duckdb.DuckDBPyConnection, run: ModelRun) -> int:
    """Replace the run's as-of date in `marts.model_fit`; other dates are kept. Rows written."""
    return replace_as_of_rows(con, MODEL_FIT, run.as_of, fit_rows(run))


@dataclass(frozen=True)
class StoredFit:
    """A model's run as recorded in `marts.model_fit` for one as-of date."""

    model: str
    status: str
    message: str
    params: dict[str, float] | None
    unit_days: float

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.params)


def read_model_fit(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, StoredFit]:
    """The recorded fits of `as_of` by model name; models without a row are absent."""
    if not relation_exists(con, MODEL_FIT):
        return {}
    rows = con.execute(
        f"select model, status, message, parameter, value, time_unit_days from {MODEL_FIT} "
        "where as_of_date = ? order by model, parameter",
        [as_of],
    ).fetchall()
    fits: dict[str, StoredFit] = {}
    for model, status, message, parameter, value, unit_days in rows:
        stored = fits.get(model) or StoredFit(model, status, message or "", {}, float(unit_days))
        if parameter is not None:
            stored.params[parameter] = float(value)
        fits[model] = stored
    return fits
