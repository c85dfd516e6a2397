"""Maximum-likelihood machinery shared by the BG/NBD and Gamma-Gamma fits.

Both models are fitted the same way: identical input rows are compressed into weights, the
weighted mean negative log-likelihood and its analytic gradient are minimised over log-parameters
with L-BFGS-B (box bounds keep every parameter positive and finite), and the outcome is a
`ModelFit` that says whether the parameters can be used and, if not, why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

# Statuses of a ModelFit. Only "ok" carries parameters.
OK = "ok"
TOO_FEW_CUSTOMERS = "too_few_customers"
TOO_FEW_REPEAT_CUSTOMERS = "too_few_repeat_customers"
NOT_CONVERGED = "not_converged"
NON_FINITE = "non_finite"
DEGENERATE = "degenerate"

# Log-parameter box, in the internally rescaled units (data scaled to mean 1): e^±20 is far
# outside any sensible estimate, yet keeps every intermediate quantity finite.
LOG_BOUND = 20.0


@dataclass(frozen=True)
class ModelFit:
    """Outcome of a maximum-likelihood fit.

    `params` is a dict of the model's parameters when `status == "ok"` and None otherwise, so a
    caller can never use the parameters of a failed fit by accident; `message` says why.
    `log_likelihood` is the total (weighted sum over customers) log-likelihood at the estimate,
    in the caller's units; `n_customers` the total weight fitted, `n_patterns` the number of
    distinct input rows after compression, `n_excluded` the customers left out of the fit
    (e.g. zero spend for Gamma-Gamma).
    """

    model: str
    status: str
    params: dict[str, float] | None
    log_likelihood: float | None
    n_customers: int
    n_patterns: int = 0
    converged: bool = False
    iterations: int = 0
    message: str = ""
    at_bounds: tuple[str, ...] = field(default_factory=tuple)
    n_excluded: int = 0

    @property
    def ok(self) -> bool:
        return self.status == OK

    def parameter_rows(self) -> list[dict[str, Any]]:
        """One dict per parameter (the grain of the `model_fit` mart); empty when not ok."""
        if self.params is None:
            return []
        return [
            {
                "model": self.model,
                "parameter": name,
                "value": value,
                "log_likelihood": self.log_likelihood,
                "n_customers": self.n_customers,
                "converged": self.converged,
                "iterations": self.iterations,
                "status": self.status,
            }
            for name, value in self.params.items()
        ]


def refused(
    model: str, status: str, message: str, n_customers: int, n_excluded: int = 0
) -> ModelFit:
    """A fit that was not attempted (guardrail), or whose result is unusable."""
    return ModelFit(
        model=model,
        status=status,
        params=None,
        log_likelihood=None,
        n_customers=int(n_customers),
        message=message,
        n_excluded=int(n_excluded),
    )


def compress_rows(*columns: np.ndarray, weights: np.ndarray | None = None):
    """Collapse identical rows of `columns` into unique rows and summed weights.

    Returns (unique columns as a tuple of arrays, weights, inverse) where
    `unique[inverse]` rebuilds the input rows. The likelihood of a model whose
    per-customer term depends only on these columns is the weighted sum over unique rows, so a
    million customers with a few thousand distinct histories cost a few thousand evaluations.
    Same result as np.unique(rows, axis=0, return_inverse=True, return_counts=True).
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    n = len(cols[0])
    # lexsort + boundary flags: several times faster than np.unique(axis=0), which sorts rows
    # as opaque void records.
    order = np.lexsort(cols[::-1])
    sorted_cols = [c[order] for c in cols]
    starts = np.ones(n, dtype=bool)
    if n:
        starts[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in sorted_cols])
    group_sorted = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group_sorted
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    summed = np.bincount(inverse, weights=w, minlength=int(starts.sum()))
    return tuple(c[starts] for c in sorted_cols), summed, inverse


@dataclass(frozen=True)
class Histories:
    """Customer histories ready for a purchase-model fit: distinct (x, t_x, T) rows with their
    weights, time rescaled to mean T = 1 (`scale` is that unit in the caller's)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    scale: float
    n_customers: float


def prepare_histories(
    model: str, x, t_x, T, weights, min_customers: int, min_repeat_customers: int
) -> Histories | ModelFit:
    """The guardrails every purchase model shares, then compression and rescaling; a refused
    `ModelFit` when too few customers (or repeat customers, without whom dropout is not
    identified) are there to fit. `x, t_x, T` must be validated already."""
    w = np.ones_like(x) if weights is None else np.broadcast_to(np.asarray(weights, float), x.shape)
    n_customers, n_repeat = float(w.sum()), float(w[x > 0].sum())
    if x.size == 0 or n_customers < max(min_customers, 1):
        return refused(
            model, TOO_FEW_CUSTOMERS, f"{n_customers:g} customers < {min_customers}", n_customers
        )
    if n_repeat < max(min_repeat_customers, 1):
        return refused(
            model,
            TOO_FEW_REPEAT_CUSTOMERS,
            f"{n_repeat:g} repeat customers (x > 0) < {max(min_repeat_customers, 1)}",
            n_customers,
        )
    (xu, tu, Tu), wu, _ = compress_rows(x, t_x, T, weights=w)
    scale = float(np.average(Tu, weights=wu)) or 1.0
    return Histories(xu, tu, Tu, wu, scale, n_customers)


def as_params(params: Mapping[str, float] | ModelFit, names: tuple[str, ...]) -> tuple[float, ...]:
    """The named parameters as floats, with a clear error for a failed fit or a missing name."""
    if isinstance(params, ModelFit):
        if params.params is None:
            raise ValueError(
                f"{params.model} fit has no parameters ({params.status}): {params.message}"
            )
        params = params.params
    if params is None:
        raise ValueError("no parameters: the model fit did not succeed")
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"parameters {missing} missing (expected {list(names)})")
    values = tuple(float(params[n]) for n in names)
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"parameters must be finite and positive, got {dict(zip(names, values))}")
    return values


@dataclass(frozen=True)
class Optimum:
    log_params: np.ndarray
    converged: bool
    iterations: int
    message: str
    at_bounds: tuple[bool, ...]


def minimize_log_params(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    *,
    max_iterations: int,
    upper: np.ndarray | None = None,
) -> Optimum:
    """Minimise objective(log_params) -> (value, gradient) with L-BFGS-B inside the log box.

    The box is [-LOG_BOUND, LOG_BOUND] per log-parameter, or [-LOG_BOUND, upper] where `upper`
    is given. The objective should be a *mean* over customers so that the tolerances below do
    not depend on the number of customers.
    """
    lower = np.full(len(start), -LOG_BOUND)
    upper = np.full(len(start), LOG_BOUND) if upper is None else np.asarray(upper, dtype=float)
    with np.errstate(all="ignore"):
        res = minimize(
            objective,
            np.clip(start, lower + 1e-3, upper - 1e-3),
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lower, upper)),
            options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9},
        )
    message = res.message if isinstance(res.message, str) else str(res.message)
    converged = bool(res.success)
    on_bound = (np.abs(res.x - lower) < 1e-3) | (np.abs(res.x - upper) < 1e-3)
    # L-BFGS-B sometimes stops on a failed line search at the optimum itself, where rounding
    # makes further progress impossible; a vanishing projected gradient there is convergence.
    free_gradient = (
        np.abs(res.jac[~on_bound]) if np.all(np.isfinite(res.jac)) else np.array([np.inf])
    )
    if not converged and np.max(free_gradient, initial=0.0) < 1e-6:
        converged = True
        message = f"{message} (accepted: gradient below 1e-6)"
    return Optimum(np.asarray(res.x), converged, int(res.nit), message, tuple(map(bool, on_bound)))


def finish(
    model: str,
    names: tuple[str, ...],
    params: np.ndarray,
    optimum: Optimum,
    log_likelihood: float,
    n_customers: float,
    n_patterns: int,
    *,
    n_excluded: int = 0,
    degenerate: str | None = None,
) -> ModelFit:
    """Turn an optimiser result into a ModelFit, refusing non-finite or non-converged estimates."""
    values = {n: float(v) for n, v in zip(names, params)}
    at_bounds = tuple(n for n, hit in zip(names, optimum.at_bounds) if hit)
    common = {
        "model": model,
        "n_customers": round(n_customers),
        "n_patterns": n_patterns,
        "converged": optimum.converged,
        "iterations": optimum.iterations,
        "at_bounds": at_bounds,
        "n_excluded": n_excluded,
    }
    if not (np.all(np.isfinite(params)) and np.isfinite(log_likelihood)):
        status, message = (
            NON_FINITE,
            f"non-finite estimate {values}, log-likelihood {log_likelihood}",
        )
    elif not optimum.converged:
        status, message = (
            NOT_CONVERGED,
            f"optimiser did not converge: {optimum.message}; last {values}",
        )
    elif degenerate:
        status, message = DEGENERATE, degenerate
    else:
        status, message = OK, optimum.message
        if at_bounds:
            message += f"; {list(at_bounds)} at the search bound (a limiting case of the model)"
    if status != OK:
        return ModelFit(status=status, params=None, log_likelihood=None, message=message, **common)
    return ModelFit(
        status=status,
        params=values,
        log_likelihood=float(log_likelihood),
        message=message,
        **common,
    )
