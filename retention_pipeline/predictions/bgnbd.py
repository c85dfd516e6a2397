"""BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

A customer's history is (x, t_x, T) in one time unit (days or weeks, the caller's choice):
x = repeat purchase occasions (occasions - 1), t_x = time from the first to the last occasion,
T = time from the first occasion to the end of the calibration period. While alive a customer
buys at Poisson rate lambda ~ Gamma(r, alpha); after each *repeat* purchase they drop out with
probability p ~ Beta(a, b). `alpha` is in the caller's time unit; r, a, b are unit-free.

Everything here is vectorised numpy/scipy; parameters are a mapping with keys r, alpha, a, b
(e.g. `ModelFit.params`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from .fitting import (
    LOG_BOUND,
    ModelFit,
    as_params,
    finish,
    minimize_log_params,
    prepare_histories,
)

MODEL = "bgnbd"
PARAM_NAMES = ("r", "alpha", "a", "b")
DEFAULT_MIN_CUSTOMERS = 50
DEFAULT_MIN_REPEAT_CUSTOMERS = 10
# Cap on r: beyond it purchase rates are all but homogeneous (coefficient of variation
# 1 / sqrt(r) = 3 %), the likelihood is flat in r, and 2F1 with r in the millions is not
# computable. Data that push r there (e.g. uniform random purchases) stop at the cap.
R_MAX = 1e3
# Cap on a and b: a, b -> inf with a / (a + b) fixed is the model without dropout heterogeneity
# (one dropout probability for all); the likelihood is flat along that ridge and an unbounded
# search can wander to e^20 and stop unconverged. At 1e4 the Beta's spread is already negligible
# (coefficient of variation of p below 5 % for p >= 0.1), so the cap loses nothing and the fit
# converges on the limiting model, reported as a, b at the bound.
AB_MAX = 1e4

Params = Mapping[str, float] | ModelFit


def validate_history(x: ArrayLike, t_x: ArrayLike, T: ArrayLike):
    """(x, t_x, T) as float arrays of one shape; ValueError naming the first broken rule."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(x, t_x, T))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T))):
        raise ValueError("x, t_x and T must be finite (no NaN/inf)")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x (repeat occasions) must be a non-negative integer")
    if np.any(t_x < 0):
        raise ValueError("t_x (recency) must be >= 0")
    if np.any(t_x > T * (1 + 1e-9) + 1e-12):
        raise ValueError("t_x (recency) must be <= T (customer age)")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x must be 0 for customers with x == 0")
    return x, t_x, T


def _of_x(func, shift, x, distinct_x):
    """func(shift + x); with distinct_x = (the distinct x, each row's index into them), computed
    once per distinct x and gathered: the same values, for a few dozen calls instead of one per
    history (the fit's histories have hundreds of thousands of rows but few distinct x)."""
    if distinct_x is None:
        return func(shift + x)
    values, rows = distinct_x
    return func(shift + values)[rows]


def _row_log_likelihood(r, alpha, a, b, x, t_x, T, *, with_gradient=False, distinct_x=None):
    """Per-row log-likelihood (paper eq. 6, section 7 form) and optionally d/d(r, alpha, a, b).

    LL = A1 + A2 + log(exp(A3) + [x > 0] exp(A4)), summed in log space (logaddexp) so that
    neither term underflows for long-lived or heavy buyers.
    """
    repeat = x > 0
    xm1 = np.maximum(x, 1) - 1  # b + x - 1 is only used when x > 0; keep it finite otherwise
    A12 = (
        _of_x(gammaln, r, x, distinct_x)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + _of_x(gammaln, b, x, distinct_x)
        - gammaln(b)
        - _of_x(gammaln, a + b, x, distinct_x)
    )
    log_at, log_ar = np.log(alpha + T), np.log(alpha + t_x)
    A3 = -(r + x) * log_at
    A4 = np.log(a) - np.log(b + xm1) - (r + x) * log_ar
    top = np.where(repeat, np.maximum(A3, A4), A3)
    e3 = np.exp(A3 - top)
    e4 = np.where(repeat, np.exp(A4 - top), 0.0)
    total = e3 + e4
    ll = A12 + top + np.log(total)
    if not with_gradient:
        return ll
    w3, w4 = e3 / total, e4 / total  # posterior shares of "alive at T" and "dropped at t_x"
    d_r = _of_x(digamma, r, x, distinct_x) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_ar
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    common = digamma(a + b) - _of_x(digamma, a + b, x, distinct_x)
    d_a = common + w4 / a
    d_b = common + _of_x(digamma, b, x, distinct_x) - digamma(b) - w4 / (b + xm1)
    return ll, (d_r, d_alpha, d_a, d_b)


def bgnbd_log_likelihood(params: Params, x, t_x, T, *, weights: ArrayLike | None = None) -> float:
    """Total log-likelihood: sum over customers (weighted by `weights`, default 1 each)."""
    r, alpha, a, b = as_params(params, PARAM_NAMES)
    x, t_x, T = validate_history(x, t_x, T)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    return float(np.sum(w * _row_log_likelihood(r, alpha, a, b, x, t_x, T)))


@dataclass(frozen=True)
class _Patterns:
    """Compressed (x, t_x, T) rows with weights; the fit's objective lives here."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray

    distinct_x: tuple[np.ndarray, np.ndarray]  # the distinct x and each row's index into them

    @classmethod
    def of(cls, x, t_x, T, w) -> _Patterns:
        return cls(x, t_x, T, w, np.unique(x, return_inverse=True))

    def objective(self, log_params: np.ndarray) -> tuple[float, np.ndarray]:
        """Weighted *mean* negative LL and its gradient with respect to log-parameters."""
        params = np.exp(log_params)
        ll, grads = _row_log_likelihood(*params, self.x, self.t_x, self.T, with_gradient=True,
                                        distinct_x=self.distinct_x)
        total = self.w.sum()
        value = -np.dot(self.w, ll) / total
        gradient = -np.array([np.dot(self.w, g) for g in grads]) / total * params
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        return float(value), gradient


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    min_customers: int = DEFAULT_MIN_CUSTOMERS,
    min_repeat_customers: int = DEFAULT_MIN_REPEAT_CUSTOMERS,
    max_iterations: int = 1000,
) -> ModelFit:
    """Maximum-likelihood BG/NBD fit; a `ModelFit` whose params are r, alpha, a, b (or None).

    Identical (x, t_x, T) rows are compressed into weights first (`compress_rows`, same result
    as np.unique), so the cost follows the number of distinct histories. Time is rescaled internally to mean T = 1 (alpha
    is reported back in the caller's unit; the log-likelihood is that of the caller's data).
    Guardrails: fewer than `min_customers` customers or `min_repeat_customers` customers with
    x > 0 (at least one is always required: without repeat buyers the dropout process is not
    identified) give status too_few_customers / too_few_repeat_customers without fitting;
    a non-converged or non-finite optimum gives not_converged / non_finite. Only status "ok"
    carries parameters. Data at a limit of the model (no rate heterogeneity: r at R_MAX; no
    dropout: a -> 0) stay "ok" with the parameter named in `at_bounds` and the message.
    """
    x, t_x, T = validate_history(x, t_x, T)
    h = prepare_histories(MODEL, x, t_x, T, weights, min_customers, min_repeat_customers)
    if isinstance(h, ModelFit):
        return h
    xu, tu, Tu, wu, scale, n_customers = h.x, h.t_x, h.T, h.weights, h.scale, h.n_customers
    patterns = _Patterns.of(xu, tu / scale, Tu / scale, wu)
    upper = np.array([np.log(R_MAX), LOG_BOUND, np.log(AB_MAX), np.log(AB_MAX)])
    optimum = minimize_log_params(
        patterns.objective, np.zeros(4), max_iterations=max_iterations, upper=upper
    )
    r, alpha, a, b = np.exp(optimum.log_params)
    estimate = np.array([r, alpha * scale, a, b])
    with np.errstate(all="ignore"):
        ll = np.dot(wu, _row_log_likelihood(*estimate, xu, tu, Tu))
    return finish(MODEL, PARAM_NAMES, estimate, optimum, ll, n_customers, len(wu))


def bgnbd_p_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
    """P(still alive at T | x, t_x, T) (Fader, Hardie & Lee, note 021).

    A BG/NBD customer can only drop out right after a repeat purchase, so x = 0 gives exactly 1:
    a known property of the model, not a bug (read it as "no evidence of dropout yet").
    """
    r, alpha, a, b = as_params(params, PARAM_NAMES)
    x, t_x, T = validate_history(x, t_x, T)
    return _p_alive(r, alpha, a, b, x, t_x, T)


def _p_alive(r, alpha, a, b, x, t_x, T):
    # 1 / (1 + odds of having dropped at t_x), via the log-odds so that heavy lapsed buyers
    # ((alpha + T) / (alpha + t_x))^(r + x) -> inf give 0 without overflow.
    log_odds_dead = (
        (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        + np.log(a)
        - np.log(b + np.maximum(x, 1) - 1)
    )
    return np.where(x == 0, 1.0, expit(-log_odds_dead))


def bgnbd_expected_purchases(
    params: Params, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """E[X(T, T + t] | x, t_x, T]: expected repeat purchases in the next `t` time units (eq. 10).

    Eq. 10 needs 2F1(r + x, b + x; a + b + x - 1; z) * (1 - z)^(r + x), z = t / (alpha + T + t),
    whose hypergeometric factor explodes for heavy buyers. Euler's transformation
    2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z) turns the product into
    (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z), whose first two arguments do not
    grow with x and which stays O(1): the same quantity without overflow. Where scipy's 2F1
    still fails (NaN far out: huge r, or t >> alpha + T with a > 1) the entry is integrated
    numerically instead (`_purchases_if_alive_quad`). With x = t_x = T = 0 this is the
    unconditional E[X(t)] of a newly acquired customer (eq. 9).
    """
    r, alpha, a, b = as_params(params, PARAM_NAMES)
    x, t_x, T = validate_history(x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t (prediction horizon) must be finite and >= 0")
    return _purchases_if_alive(r, alpha, a, b, x, T, t) * _p_alive(r, alpha, a, b, x, t_x, T)


def _purchases_if_alive(r, alpha, a, b, x, T, t):
    """Numerator of eq. 10: expected purchases in (T, T + t] of a customer alive at T."""
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9  # eq. 10 is 0/0 at a = 1; its limit is continuous, so step off it
    z = t / (alpha + T + t)
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        value = (
            c
            / (a - 1)
            * (1.0 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z))
        )
    # scipy's 2F1 gives NaN (or, rarely, nonsense) far out, e.g. huge r or t >> alpha + T with
    # a > 1; such entries are integrated numerically. 0 <= value <= (r + x) t / (alpha + T),
    # the purchases of a customer who never drops out.
    k = t / (alpha + T)
    bad = ~np.isfinite(value) | (value < 0) | (value > (r + x) * k * (1 + 1e-8) + 1e-12)
    if np.any(bad):
        shape = np.broadcast_shapes(np.shape(value), np.shape(x), np.shape(k))
        flat = [np.broadcast_to(v, shape).ravel() for v in (value, x, k, bad)]
        value, x_flat, k_flat, bad_flat = flat[0].copy(), flat[1], flat[2], flat[3]
        cache: dict[tuple[float, float], float] = {}
        for i in np.flatnonzero(bad_flat):
            key = (float(x_flat[i]), float(k_flat[i]))
            if key not in cache:
                cache[key] = _purchases_if_alive_quad(a, b + key[0], r + key[0], key[1])
            value[i] = cache[key]
        value = value.reshape(shape)
    return value


def _purchases_if_alive_quad(a: float, bb: float, s: float, k: float) -> float:
    """E_{p ~ Beta(a, bb)}[(1 - (1 + p k)^-s) / p] by adaptive quadrature over y = -log p.

    Alive at T, the posterior is lambda ~ Gamma(s = r + x, alpha + T), p ~ Beta(a, bb = b + x),
    independent, and an alive customer buys (1 - e^{-lambda p t}) / p in the next t; averaging
    over lambda gives the integrand. In y the integrand is bounded and smooth, and is evaluated
    in log space so that neither tiny a (slow tail) nor huge s (sharp step) under/overflows.
    """
    log_norm = betaln(a, bb)
    log_sk = np.log(s) + np.log(k) if k > 0 else -np.inf
    if not np.isfinite(log_sk):
        return 0.0

    def integrand(y: float) -> float:
        u = k * np.exp(-y)
        bought = -np.expm1(-s * np.log1p(u))
        log_bought = np.log(bought) if s * u > 1e-12 else log_sk - y  # small: s u
        log_survive = (bb - 1) * np.log(-np.expm1(-y)) if bb != 1 else 0.0
        return np.exp(log_bought - (a - 1) * y + log_survive - log_norm)

    # Past y_far, s u < e^-40 and (1 - p)^(bb - 1) = 1 to double precision: the integrand is
    # s k e^{-a y} / B(a, bb), integrated in closed form (this tail carries almost all the mass
    # when a is tiny). Before it, break where the integrand turns: the step of `bought` at
    # p ~ 1 / (s k) and the bulk of Beta(a, bb) at p ~ 1 / bb.
    turns = sorted({c for c in (log_sk, np.log(bb + a)) if c > 0})
    y_far = max([0.0, *turns]) + 40.0
    edges = [0.0, *turns, y_far]
    body = sum(
        integrate.quad(integrand, lo, hi, limit=200, epsabs=0, epsrel=1e-10)[0]
        for lo, hi in itertools.pairwise(edges)
    )
    return float(body + np.exp(log_sk - a * y_far - np.log(a) - log_norm))
