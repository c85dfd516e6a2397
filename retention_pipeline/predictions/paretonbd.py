"""Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's derivation notes).

Same history as BG/NBD: (x, t_x, T) in one time unit, x = repeat occasions. While alive a
customer buys at Poisson rate lambda ~ Gamma(r, alpha); the lifetime is exponential with rate
mu ~ Gamma(s, beta), so a customer can drop out at *any* time, also before a first repeat
purchase: a one-time buyer seen long ago has P(alive) < 1 (under BG/NBD it is 1).

The likelihood of a history is

    L = G(r + x) alpha^r beta^s / G(r) * [ (alpha + T)^-(r+x) (beta + T)^-s + s I ],
    I = integral over tau in (t_x, T) of (alpha + tau)^-(r+x) (beta + tau)^-(s+1)

(alive at T, or died at tau in (t_x, T)). I has a closed form with Gauss's 2F1: with
m = max(alpha, beta), k = r + s + x and c = s + 1 if alpha >= beta else r + x,

    k I = F(z(t_x)) (m + t_x)^-k - F(z(T)) (m + T)^-k,   F(z) = 2F1(k, c; k + 1; z),
    z(tau) = |alpha - beta| / (m + tau),

which is evaluated in log space (log-sum-exp with signs, as lifetimes'
ParetoNBDFitter._log_A_0 and CLVTools do), so neither power underflows for heavy buyers.
Where scipy's 2F1 fails the entry falls back to adaptive quadrature of I itself.

2F1 has no closed-form derivative in its parameters, so the fit's gradient is a central
difference of the (vectorised, cheap) mean log-likelihood in log-parameters.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.special import expit, gammaln, hyp2f1

from .bgnbd import validate_history
from .fitting import (
    LOG_BOUND,
    ModelFit,
    as_params,
    compress_rows,
    finish,
    minimize_log_params,
    prepare_histories,
)

MODEL = "pareto_nbd"
PARAM_NAMES = ("r", "alpha", "s", "beta")
DEFAULT_MIN_CUSTOMERS = 50
DEFAULT_MIN_REPEAT_CUSTOMERS = 10
R_MAX = 1e3  # as in BG/NBD: beyond it rates are homogeneous and 2F1 is not computable
# Cap on s: past it dropout rates are all but homogeneous (coefficient of variation 1 / sqrt(s)
# = 14 %) and scipy's 2F1 stops being computable; data without dropout heterogeneity stop here
# and the fit reports s at its bound (the limiting, homogeneous-dropout model).
S_MAX = 50.0
GRADIENT_STEP = 1e-5  # in log-parameters; central differences err by ~step^2


def _cores() -> int:
    """The cores this process may run on (all of the machine's where that is not known)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The likelihood evaluations of one gradient run on every core the process may use.
_EVALUATOR = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="pareto-nbd")

Params = Mapping[str, float] | ModelFit


@dataclass(frozen=True)
class _Distinct:
    """The distinct (x, tau) pairs of some histories and where each history's pair sits.

    The two 2F1 terms of I depend on (x, t_x) and on (x, T) alone: a million customers have
    a few hundred thousand distinct (x, t_x, T) but only tens of thousands of each pair, so the
    fit evaluates 2F1 on the pairs and gathers (the same values, computed fewer times)."""

    x: np.ndarray
    tau: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, tau: np.ndarray) -> _Distinct:
        (xu, tu), _, rows = compress_rows(x, tau)
        return cls(xu, tu, rows)


def _log_edge_term(r, alpha, s, beta, x, tau) -> np.ndarray:
    """log of 2F1(k, c; k + 1; z(tau)) (m + tau)^-k, one edge of k I (module docstring)."""
    k = r + s + x
    m = max(alpha, beta)
    c = s + 1.0 if alpha >= beta else r + x
    return np.log(hyp2f1(k, c, k + 1.0, abs(alpha - beta) / (m + tau))) - k * np.log(m + tau)


def log_dropout_integral(
    r, alpha, s, beta, x, t_x, T, *, pairs: tuple[_Distinct, _Distinct] | None = None
) -> np.ndarray:
    """log I (see the module docstring): the 2F1 closed form, quadrature where it fails.
    `pairs`: the distinct (x, t_x) and (x, T) of these histories (_Distinct), when known."""
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    with np.errstate(all="ignore"):
        if pairs is None:
            log_early = _log_edge_term(r, alpha, s, beta, x, t_x)
            log_late = _log_edge_term(r, alpha, s, beta, x, T)
        else:
            early, late = pairs
            log_early = _log_edge_term(r, alpha, s, beta, early.x, early.tau)[early.rows]
            log_late = _log_edge_term(r, alpha, s, beta, late.x, late.tau)[late.rows]
        # log(e^early - e^late) = early + log(1 - e^(late - early)); the late term is smaller
        value = log_early + np.log(-np.expm1(log_late - log_early)) - np.log(r + s + x)
    value = np.where(T <= t_x, -np.inf, value)
    bad = ((T > t_x) & ~np.isfinite(value)) | np.isnan(value)
    if np.any(bad):
        value = np.array(value, dtype=float)
        for i in np.flatnonzero(bad):
            xi, ti, Ti = x.flat[i], t_x.flat[i], T.flat[i]
            value.flat[i] = _log_dropout_integral_quad(r, alpha, s, beta, xi, ti, Ti)
    return value


def _log_dropout_integral_quad(r, alpha, s, beta, x, t_x, T) -> float:
    """log I by adaptive quadrature, the integrand scaled by its (largest) value at t_x."""
    def log_f(tau):
        return -(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)

    top = log_f(t_x)
    # The integrand falls like (m + tau)^-(k + 1): its mass sits within ~ (m + t_x) / k of t_x.
    scale = (max(alpha, beta) + t_x) / (r + s + x)
    edges = sorted({t_x, *(t_x + f * scale for f in (1, 10, 100) if t_x + f * scale < T), T})
    body = sum(
        integrate.quad(lambda u: np.exp(log_f(u) - top), lo, hi, limit=200, epsrel=1e-11)[0]
        for lo, hi in itertools.pairwise(edges)
    )
    return float(top + np.log(body)) if body > 0 else -np.inf


def _row_log_likelihood(r, alpha, s, beta, x, t_x, T, pairs=None) -> np.ndarray:
    """Per-row log-likelihood: log of (alive at T) + (died in (t_x, T]), summed in log space."""
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) + log_dropout_integral(r, alpha, s, beta, x, t_x, T, pairs=pairs)
    return head + np.logaddexp(alive, died)


def pareto_nbd_log_likelihood(
    params: Params, x, t_x, T, *, weights: ArrayLike | None = None
) -> float:
    """Total log-likelihood: sum over customers (weighted by `weights`, default 1 each)."""
    r, alpha, s, beta = as_params(params, PARAM_NAMES)
    x, t_x, T = validate_history(x, t_x, T)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return float(np.sum(w * _row_log_likelihood(r, alpha, s, beta, x, t_x, T)))


@dataclass(frozen=True)
class _Patterns:
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray
    pairs: tuple[_Distinct, _Distinct]

    @classmethod
    def of(cls, x, t_x, T, w) -> _Patterns:
        return cls(x, t_x, T, w, (_Distinct.of(x, t_x), _Distinct.of(x, T)))

    def mean_negative_ll(self, log_params: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            ll = _row_log_likelihood(*np.exp(log_params), self.x, self.t_x, self.T, self.pairs)
        value = -np.dot(self.w, ll) / self.w.sum()
        return float(value) if np.isfinite(value) else np.inf

    def objective(self, log_params: np.ndarray) -> tuple[float, np.ndarray]:
        """The mean negative LL and its central-difference gradient: nine evaluations, run
        side by side on the machine's cores (scipy's 2F1 releases the GIL), each the same
        computation as alone, so the result does not depend on the number of cores."""
        steps = GRADIENT_STEP * np.eye(len(log_params))
        points = [log_params, *(log_params + steps), *(log_params - steps)]
        value, *shifted = _EVALUATOR.map(self.mean_negative_ll, points)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        up, down = np.array(shifted[: len(log_params)]), np.array(shifted[len(log_params):])
        gradient = (up - down) / (2 * GRADIENT_STEP)
        if not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros_like(log_params)
        return value, gradient


def fit_pareto_nbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    min_customers: int = DEFAULT_MIN_CUSTOMERS,
    min_repeat_customers: int = DEFAULT_MIN_REPEAT_CUSTOMERS,
    max_iterations: int = 1000,
) -> ModelFit:
    """Maximum-likelihood Pareto/NBD fit; a `ModelFit` with params r, alpha, s, beta (or None).

    Same guardrails, compression and internal rescaling (mean T = 1) as `fit_bgnbd`; alpha and
    beta are reported in the caller's time unit.
    """
    x, t_x, T = validate_history(x, t_x, T)
    h = prepare_histories(MODEL, x, t_x, T, weights, min_customers, min_repeat_customers)
    if isinstance(h, ModelFit):
        return h
    xu, tu, Tu, wu, scale, n_customers = h.x, h.t_x, h.T, h.weights, h.scale, h.n_customers
    patterns = _Patterns.of(xu, tu / scale, Tu / scale, wu)
    upper = np.array([np.log(R_MAX), LOG_BOUND, np.log(S_MAX), LOG_BOUND])
    optimum = minimize_log_params(
        patterns.objective, np.zeros(4), max_iterations=max_iterations, upper=upper
    )
    r, alpha, s, beta = np.exp(optimum.log_params)
    estimate = np.array([r, alpha * scale, s, beta * scale])
    with np.errstate(all="ignore"):
        ll = np.dot(wu, _row_log_likelihood(*estimate, xu, tu, Tu))
    return finish(MODEL, PARAM_NAMES, estimate, optimum, ll, n_customers, len(wu))


def _checked(params: Params, x, t_x, T):
    return (*as_params(params, PARAM_NAMES), *validate_history(x, t_x, T))


def _log_odds_dead(r, alpha, s, beta, x, t_x, T):
    """log( P(died in (t_x, T]) / P(alive at T) ) given the history."""
    died = np.log(s) + log_dropout_integral(r, alpha, s, beta, x, t_x, T)
    return died + (r + x) * np.log(alpha + T) + s * np.log(beta + T)


def pareto_nbd_p_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(still alive at T | x, t_x, T). Below 1 for one-time buyers too (x = 0, T > 0)."""
    r, alpha, s, beta, x, t_x, T = _checked(params, x, t_x, T)
    return expit(-_log_odds_dead(r, alpha, s, beta, x, t_x, T))


def pareto_nbd_expected_purchases(
    params: Params, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """E[X(T, T + t] | x, t_x, T] = P(alive) E[purchases in t | alive].

    Alive at T, lambda ~ Gamma(r + x, alpha + T) and mu ~ Gamma(s, beta + T) independently; an
    alive customer buys lambda (1 - e^(-mu t)) / mu in the next t, which averages to
    (r + x) / (alpha + T) * (beta + T) / (s - 1) * (1 - ((beta + T) / (beta + T + t))^(s - 1)),
    written with expm1 so that s -> 1 (its limit is a logarithm) stays exact. With
    x = t_x = T = 0 this is the unconditional E[X(t)] of a newly acquired customer.
    """
    r, alpha, s, beta, x, t_x, T = _checked(params, x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t (prediction horizon) must be finite and >= 0")
    log_stretch = np.log1p(t / (beta + T))
    if abs(s - 1.0) < 1e-9:
        lifetime_share = log_stretch
    else:
        lifetime_share = -np.expm1(-(s - 1.0) * log_stretch) / (s - 1.0)
    if_alive = (r + x) / (alpha + T) * (beta + T) * lifetime_share
    return if_alive * expit(-_log_odds_dead(r, alpha, s, beta, x, t_x, T))


def pareto_nbd_p_no_purchase(
    params: Params, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """P(no occasion in (T, T + t] | x, t_x, T).

    The likelihood of (x, t_x, T + t) is the probability of the same purchases followed by
    none up to T + t, so the ratio of the two likelihoods is exactly this probability.
    """
    r, alpha, s, beta, x, t_x, T = _checked(params, x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t (horizon) must be finite and >= 0")
    later = _row_log_likelihood(r, alpha, s, beta, x, t_x, T + t)
    now = _row_log_likelihood(r, alpha, s, beta, x, t_x, T)
    return np.minimum(np.exp(later - now), 1.0)
