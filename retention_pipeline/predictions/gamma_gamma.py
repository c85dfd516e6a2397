"""Gamma-Gamma model of spend per purchase occasion (Fader & Hardie note 025; Colombo & Jiang).

Input per customer: x = repeat occasions (x > 0 only carry information) and `monetary` = the
mean value of those repeat occasions. "Occasion" is the purchase occasion of docs/metrics.md: all
valid orders of one customer on one date, values summed. The *first* occasion is excluded from the
mean (it is not in x either). On CDNOW_sample this is exactly the `zbar` column of
lifetimes' cdnow_customers_summary_with_transactions.csv: the mean of the summed dollar value
of each distinct purchase day after the first, up to 1997-09-30 (946 customers with x > 0),
and it reproduces the published p = 6.25, q = 3.74, gamma = 15.44. (Averaging raw transaction
rows instead, or including the first day, does not.)

The model: each occasion's value is Gamma(p, nu) with the customer's nu ~ Gamma(q, gamma);
E[value] = p * gamma / (q - 1) for a random customer, defined only for q > 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from .fitting import (
    TOO_FEW_REPEAT_CUSTOMERS,
    ModelFit,
    as_params,
    compress_rows,
    finish,
    minimize_log_params,
    refused,
)

MODEL = "gamma_gamma"
PARAM_NAMES = ("p", "q", "gamma")
DEFAULT_MIN_REPEAT_CUSTOMERS = 10

Params = Mapping[str, float] | ModelFit


def _validated(x: ArrayLike, monetary: ArrayLike):
    x, m = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(x, monetary))
    if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x (repeat occasions) must be a finite non-negative integer")
    repeat = x > 0
    if np.any(~np.isfinite(m[repeat])) or np.any(m[repeat] < 0):
        raise ValueError("monetary must be finite and >= 0 for customers with x > 0")
    return x, m


def _row_log_likelihood(p, q, gamma, x, m, *, with_gradient=False):
    """Log density of the observed mean spend m of x occasions (note 025, eq. 1a)."""
    px = p * x
    log_v = np.log(gamma + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_v
    )
    if not with_gradient:
        return ll
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_v)
    d_q = psi - digamma(q) + np.log(gamma) - log_v
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    return ll, (d_p, d_q, d_gamma)


def gamma_gamma_log_likelihood(
    params: Params, x: ArrayLike, monetary: ArrayLike, *, weights: ArrayLike | None = None
) -> float:
    """Total log-likelihood over the customers with x > 0 and monetary > 0."""
    p, q, gamma = as_params(params, PARAM_NAMES)
    x, m = _validated(x, monetary)
    w = np.ones_like(x) if weights is None else np.broadcast_to(np.asarray(weights, float), x.shape)
    used = (x > 0) & (m > 0)
    return float(np.sum(w[used] * _row_log_likelihood(p, q, gamma, x[used], m[used])))


@dataclass(frozen=True)
class _Patterns:
    x: np.ndarray
    m: np.ndarray
    w: np.ndarray

    def objective(self, log_params: np.ndarray) -> tuple[float, np.ndarray]:
        """Weighted mean negative LL and its gradient with respect to log-parameters."""
        params = np.exp(log_params)
        ll, grads = _row_log_likelihood(*params, self.x, self.m, with_gradient=True)
        total = self.w.sum()
        value = -np.dot(self.w, ll) / total
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        return float(value), -np.array([np.dot(self.w, g) for g in grads]) / total * params


def fit_gamma_gamma(
    x: ArrayLike,
    monetary: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    min_repeat_customers: int = DEFAULT_MIN_REPEAT_CUSTOMERS,
    max_iterations: int = 1000,
) -> ModelFit:
    """Maximum-likelihood Gamma-Gamma fit; a `ModelFit` whose params are p, q, gamma (or None).

    Pass every customer: rows with x == 0 carry no spend information and are ignored (their
    monetary may be NaN); repeat customers whose mean spend is 0 (zero-value orders are valid
    purchases by default) have no Gamma density and are left out, counted in `n_excluded`.
    Fewer than `min_repeat_customers` usable customers gives status too_few_repeat_customers;
    q <= 1 (population mean spend infinite) gives status degenerate. The fit's `n_customers`
    counts the customers actually used (x > 0, monetary > 0).
    """
    x, m = _validated(x, monetary)
    w = np.ones_like(x) if weights is None else np.broadcast_to(np.asarray(weights, float), x.shape)
    repeat = x > 0
    used = repeat & (m > 0)
    n_used, n_excluded = float(w[used].sum()), round(w[repeat & ~used].sum())
    if n_used < max(min_repeat_customers, 1):
        message = (
            f"{n_used:g} repeat customers with positive spend < {max(min_repeat_customers, 1)}"
        )
        return refused(MODEL, TOO_FEW_REPEAT_CUSTOMERS, message, n_used, n_excluded)
    (xu, mu), wu, _ = compress_rows(x[used], m[used], weights=w[used])
    scale = float(np.average(mu, weights=wu))  # spend rescaled to mean 1: gamma scales with it
    patterns = _Patterns(xu, mu / scale, wu)
    optimum = minimize_log_params(patterns.objective, np.zeros(3), max_iterations=max_iterations)
    p, q, gamma = np.exp(optimum.log_params)
    estimate = np.array([p, q, gamma * scale])
    with np.errstate(all="ignore"):
        ll = np.dot(wu, _row_log_likelihood(*estimate, xu, mu))
    degenerate = None if q > 1 else f"q = {q:.4g} <= 1: the population mean spend is not finite"
    return finish(
        MODEL,
        PARAM_NAMES,
        estimate,
        optimum,
        ll,
        n_used,
        len(wu),
        n_excluded=n_excluded,
        degenerate=degenerate,
    )


def gamma_gamma_expected_value(params: Params, x: ArrayLike, monetary: ArrayLike) -> np.ndarray:
    """E[value of a future occasion | x, monetary] (note 025, eq. 5).

    A credibility-weighted mix of the customer's own mean and the population mean
    p * gamma / (q - 1): p (gamma + x m) / (p x + q - 1). Customers with x == 0 (monetary
    ignored, may be NaN) get the population mean. Needs q > 1.
    """
    p, q, gamma = as_params(params, PARAM_NAMES)
    if q <= 1:
        raise ValueError(f"q = {q} <= 1: expected spend is not finite")
    x, m = _validated(x, monetary)
    own = np.where(x > 0, x * np.nan_to_num(m), 0.0)
    return p * (gamma + own) / (p * x + q - 1)
