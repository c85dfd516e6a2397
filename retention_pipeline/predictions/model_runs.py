"""One model run for an as-of date: the purchase models (BG/NBD, Pareto/NBD) and Gamma-Gamma
fitted on the histories dbt computed (histories.py), one purchase model chosen, all recorded in
`marts.model_fit` of the dbt target and read back by the scoring.

`marts.model_fit` keeps the history of runs: one row per (as_of_date, model, parameter); a run
replaces the rows of its own as-of date and keeps the others. A model that could not be fitted
(too few customers, too short a history, no convergence, ...) has one row with parameter NULL
and the status and message saying why, so the history shows the refused runs too. The rows of
the purchase model that scores customer_predictions have `selected` true; `selection_reason`
says why (setting purchase_model, or for `auto` the holdout errors of that day's backtest).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np

from retention_pipeline.settings import Settings

from . import gamma_gamma
from .fitting import ModelFit, refused
from .gamma_gamma import fit_gamma_gamma
from .histories import AS_OF_PERIOD, read_patterns, read_spend
from .purchase_models import PURCHASE_MODELS
from .sufficiency import DataCheck, check_data
from .tables import MODEL_BACKTEST, MODEL_FIT, SCHEMA, time_unit_label, write_rows

MODELS = (*PURCHASE_MODELS, gamma_gamma.MODEL)

# What a parameter at its search bound means, by model and parameter: the limiting model the fit
# reports instead (the estimates stay usable; the bound stands in for infinity or zero).
LIMITING_CASES = {
    ("bgnbd", "a"): "a, b -> inf: no dropout heterogeneity (every customer drops out after a "
    "repeat purchase with the same probability a / (a + b))",
    ("bgnbd", "b"): "a, b -> inf: no dropout heterogeneity (every customer drops out after a "
    "repeat purchase with the same probability a / (a + b))",
    ("bgnbd", "a0"): "a -> 0: no dropout (every customer stays alive, P(alive) = 1)",
    ("bgnbd", "r"): "r -> inf: no purchase-rate heterogeneity (one rate r / alpha for all)",
    ("pareto_nbd", "s"): "s, beta -> inf: no dropout heterogeneity (one dropout rate s / beta "
    "for all)",
    ("pareto_nbd", "beta"): "s, beta -> inf: no dropout heterogeneity (one dropout rate s / beta "
    "for all)",
    ("pareto_nbd", "r"): "r -> inf: no purchase-rate heterogeneity (one rate r / alpha for all)",
}


@dataclass(frozen=True)
class ModelRun:
    as_of: dt.date
    unit_days: float
    purchases: dict[str, ModelFit]
    gamma_gamma: ModelFit
    customers: int
    repeat_customers: int
    seconds: float
    data: DataCheck | None = None
    selected: str | None = None  # the purchase model that scores customer_predictions
    selection_reason: str = ""
    holdout_errors: dict[str, float] = field(default_factory=dict)

    @property
    def bgnbd(self) -> ModelFit:
        return self.purchases["bgnbd"]

    def fits(self) -> tuple[ModelFit, ...]:
        return (*self.purchases.values(), self.gamma_gamma)


@dataclass(frozen=True)
class ReusedFit:
    """A day scored with an earlier fit (fit_in_force): nothing is fitted or recorded for it."""

    as_of: dt.date
    fitted_for: dt.date
    refit_days: int

    @property
    def reason(self) -> str:
        until = self.fitted_for + dt.timedelta(days=self.refit_days - 1)
        return (f"the models fitted for {self.fitted_for} score the customers until {until} "
                f"(model_refit_days = {self.refit_days})")


def daily_model_run(settings: Settings, as_of: dt.date) -> ModelRun | ReusedFit:
    """The models fitted for `as_of`, or the earlier fit still in force (fit_in_force)."""
    return reused_fit(settings, as_of) or fit_models(settings, as_of)


def reused_fit(settings: Settings, as_of: dt.date) -> ReusedFit | None:
    fitted_for = fit_in_force(settings, as_of)
    if fitted_for is None:
        return None
    return ReusedFit(as_of, fitted_for, settings.model_refit_days)


def fit_models(settings: Settings, as_of: dt.date) -> ModelRun:
    """Fit every model on every customer's history up to the end of the as-of day, and choose
    the purchase model (setting purchase_model; for `auto`, that day's model_backtest)."""
    unit = settings.prediction_time_unit_days
    patterns = read_patterns(settings, as_of, AS_OF_PERIOD, unit)
    data = check_data(patterns, as_of, settings)
    started = time.perf_counter()
    if not data.ok:
        no = {m: refused(m, data.status, data.reason, patterns.n_customers) for m in MODELS}
        return ModelRun(
            as_of=as_of, unit_days=unit, purchases={m: no[m] for m in PURCHASE_MODELS},
            gamma_gamma=no[gamma_gamma.MODEL], customers=patterns.n_customers,
            repeat_customers=patterns.n_repeat_customers, seconds=0.0, data=data,
            selection_reason=f"no predictions: {data.reason}",
        )
    purchases = {
        name: model.fit_patterns(patterns, settings) for name, model in PURCHASE_MODELS.items()
    }
    spend_rows = read_spend(settings, as_of)
    spend = fit_gamma_gamma(
        spend_rows.x,
        spend_rows.monetary,
        weights=spend_rows.customers,
        min_repeat_customers=settings.min_repeat_customers_to_fit,
    )
    seconds = time.perf_counter() - started
    errors = read_holdout_errors(settings, as_of)
    selected, reason = choose_purchase_model(settings.purchase_model, purchases, errors)
    return ModelRun(
        as_of=as_of,
        unit_days=unit,
        purchases=purchases,
        gamma_gamma=spend,
        customers=patterns.n_customers,
        repeat_customers=patterns.n_repeat_customers,
        seconds=seconds,
        data=data,
        selected=selected,
        selection_reason=reason,
        holdout_errors=errors,
    )


def choose_purchase_model(
    setting: str, fits: dict[str, ModelFit], holdout_errors: dict[str, float]
) -> tuple[str | None, str]:
    """(model name or None, why). `auto`: the smaller holdout error of the day's backtest; without
    a backtest for both, the higher log-likelihood on the full history (same number of
    parameters, so that is also the smaller AIC)."""
    usable = {name: fit for name, fit in fits.items() if fit.ok}
    if setting != "auto":
        fit = fits[setting]
        if not fit.ok:
            return None, (
                f"purchase_model = {setting} (setting), but it was not fitted "
                f"({fit.status}): {fit.message}"
            )
        return setting, f"purchase_model = {setting} (setting)"
    if not usable:
        return None, "auto: no purchase model could be fitted"
    if len(usable) == 1:
        (name,) = usable
        return name, f"auto: {name} is the only purchase model fitted"
    scored = {name: holdout_errors[name] for name in usable if name in holdout_errors}
    if len(scored) == len(usable):
        name = min(scored, key=lambda n: (scored[n], n))
        figures = ", ".join(f"{n} {scored[n]:.1f}" for n in sorted(scored))
        return name, (
            f"auto: smallest holdout error in model_backtest (sum over calibration-frequency "
            f"buckets of |predicted - actual| repeat purchases: {figures})"
        )
    name = max(usable, key=lambda n: (usable[n].log_likelihood, n))
    figures = ", ".join(f"{n} {usable[n].log_likelihood:.1f}" for n in sorted(usable))
    return name, (
        f"auto: no backtest of both models for this date; highest log-likelihood on the full "
        f"history ({figures})"
    )


def read_holdout_errors(settings: Settings, as_of: dt.date) -> dict[str, float]:
    """Per model, the holdout error of the as-of date's backtest (empty without one)."""
    rows = _read_marts(settings, MODEL_BACKTEST, ["as_of_date", "breakdown", "model", "error"])
    errors: dict[str, float] = {}
    for row in rows:
        if (_day(row["as_of_date"]) == as_of and row["breakdown"] == "calibration_frequency"
                and row["model"] is not None):
            errors[row["model"]] = errors.get(row["model"], 0.0) + abs(float(row["error"]))
    return errors


def _read_marts(settings: Settings, table: str, columns: list[str]) -> list[dict]:
    """The rows of a prediction table of the dbt target ([] when it does not exist yet)."""
    from retention_pipeline.targets.read import read_table, table_exists

    name = table.split(".")[-1]
    if not table_exists(settings, SCHEMA, name):
        return []
    return read_table(settings, SCHEMA, name, columns).to_pylist()


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# A gamma or beta mixing distribution this narrow (coefficient of variation) is no heterogeneity
# in practice: the fit sits on the flat ridge towards the limiting model, at the bound or not.
NARROW_CV = 0.15


def _narrow(fit: ModelFit) -> list[str]:
    """Parameters whose mixing distribution is all but a point mass."""
    p = fit.params or {}
    narrow = []
    if fit.model == "bgnbd" and p:
        mean = p["a"] / (p["a"] + p["b"])
        if np.sqrt((1 - mean) / (mean * (p["a"] + p["b"] + 1))) < NARROW_CV:
            narrow.append("a")
    if fit.model == "pareto_nbd" and p and 1 / np.sqrt(p["s"]) < NARROW_CV:
        narrow.append("s")
    if p and "r" in p and 1 / np.sqrt(p["r"]) < NARROW_CV:
        narrow.append("r")
    return narrow


def limiting_case(fit: ModelFit) -> str | None:
    """The limiting model a fit at a search bound (or on the ridge towards it) stands for."""
    names = [*fit.at_bounds, *_narrow(fit)]
    if fit.model == "bgnbd" and "a" in fit.at_bounds and fit.params and fit.params["a"] < 1:
        names.remove("a")  # the lower bound: a -> 0 is the model without dropout
        names.insert(0, "a0")
    cases = dict.fromkeys(LIMITING_CASES.get((fit.model, n), "") for n in names)
    cases.pop("", None)
    return "; ".join(cases) or None


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
        purchase = fit.model in PURCHASE_MODELS
        shared = {
            **common,
            "model": fit.model,
            "customers": fit.n_customers,
            "converged": fit.converged,
            "status": fit.status,
            "message": fit.message,
            "iterations": fit.iterations,
            "log_likelihood": fit.log_likelihood,
            "selected": (fit.model == run.selected) if purchase else None,
            "selection_reason": run.selection_reason if purchase else None,
            "limiting_case": limiting_case(fit),
        }
        if fit.ok:
            rows += [
                {**shared, "parameter": name, "value": value} for name, value in fit.params.items()
            ]
        else:
            rows.append({**shared, "parameter": None, "value": None})
    return rows


def write_model_fit(settings: Settings, run: ModelRun | ReusedFit) -> int:
    """Replace the run's as-of date in `marts.model_fit`; other dates are kept. Rows written.
    A day that reuses an earlier fit has no rows of its own (a fit of an earlier run of the
    day goes)."""
    rows = fit_rows(run) if isinstance(run, ModelRun) else []
    return write_rows(settings, MODEL_FIT, rows, as_of=run.as_of)


@dataclass(frozen=True)
class StoredFit:
    """A model's run as recorded in `marts.model_fit` for one as-of date."""

    model: str
    status: str
    message: str
    params: dict[str, float] | None
    unit_days: float
    selected: bool = False
    selection_reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.params)


def fit_in_force(settings: Settings, as_of: dt.date) -> dt.date | None:
    """The as-of date of the earlier fit that scores `as_of` instead of a new one, or None when
    the models are fitted for `as_of` itself (docs/predictions.md#refits).

    The newest earlier date of marts.model_fit, when it is fewer than model_refit_days days
    before `as_of`, selected a purchase model, and was fitted with today's time unit and
    purchase_model. Only earlier dates count: a run for a date that has its own fit fits it again
    (a re-run replaces its date's rows), so a backfill of a refit day refits it, and a backfill of
    a day in between reuses the fit that day reused (the history keeps every fit)."""
    if settings.model_refit_days <= 1:
        return None
    names = ["as_of_date", "selected", "time_unit_days", "model", "selection_reason"]
    earlier = [r for r in _read_marts(settings, MODEL_FIT, names)
               if _day(r["as_of_date"]) < as_of]
    if not earlier:
        return None
    newest = max(_day(r["as_of_date"]) for r in earlier)
    if (as_of - newest).days >= settings.model_refit_days:
        return None
    rows = [r for r in earlier if _day(r["as_of_date"]) == newest]
    selected = {r["model"] for r in rows if r["selected"]}
    same_unit = all(float(r["time_unit_days"]) == settings.prediction_time_unit_days for r in rows)
    auto = all((r["selection_reason"] or "").startswith("auto") for r in rows if r["selected"])
    same_choice = auto if settings.purchase_model == "auto" else selected == {settings.purchase_model}
    return newest if selected and same_unit and same_choice else None


def fits_scoring(settings: Settings, as_of: dt.date) -> tuple[dt.date, dict[str, StoredFit]]:
    """(fit date, fits by model) that score `as_of`: its own run when recorded, else the earlier
    fit in force (fit_in_force)."""
    fits = read_model_fit(settings, as_of)
    fitted_for = None if fits else fit_in_force(settings, as_of)
    if fitted_for is None:
        return as_of, fits
    return fitted_for, read_model_fit(settings, fitted_for)


def read_model_fit(settings: Settings, as_of: dt.date) -> dict[str, StoredFit]:
    """The recorded fits of `as_of` by model name; models without a row are absent."""
    names = ["as_of_date", "model", "status", "message", "parameter", "value", "time_unit_days",
             "selected", "selection_reason"]
    rows = [r for r in _read_marts(settings, MODEL_FIT, names) if _day(r["as_of_date"]) == as_of]
    rows.sort(key=lambda r: (r["model"], r["parameter"] is None, r["parameter"] or ""))
    fits: dict[str, StoredFit] = {}
    for row in rows:
        model, status, message, parameter, value, unit_days = (
            row[n] for n in ("model", "status", "message", "parameter", "value", "time_unit_days"))
        selected, why = bool(row["selected"]), row["selection_reason"] or ""
        stored = fits.get(model) or StoredFit(
            model, status, message or "", {}, float(unit_days), bool(selected), why
        )
        if parameter is not None:
            stored.params[parameter] = float(value)
        fits[model] = stored
    return fits
