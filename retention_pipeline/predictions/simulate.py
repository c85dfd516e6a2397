"""Draw customer histories from a BG/NBD model with known parameters (tests, benchmarks).

Exact and vectorised: with lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b), a customer dies
right after their K-th repeat purchase, K ~ Geometric(p), and repeat purchases are the arrivals
of a Poisson(lambda) process. Over (0, T + h] there are N ~ Poisson(lambda (T + h)) arrivals, of
which N_cal ~ Binomial(N, T / (T + h)) fall in (0, T]. Then x = min(N_cal, K), the holdout count
is min(N, K) - x, and t_x, the x-th of N_cal uniform arrival times on (0, T), is T * Beta(x,
N_cal - x + 1) (the order-statistic law). No per-purchase loop, so millions of customers are
cheap.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike


def simulate_bgnbd(
    params: Mapping[str, float],
    T: ArrayLike,
    *,
    holdout: float = 0.0,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, x_holdout) for customers of ages T.

    x_holdout counts the repeat purchases in (T, T + holdout].
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = T.shape
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    p = np.clip(rng.beta(params["a"], params["b"], size=n), 1e-12, 1.0)
    k = rng.geometric(p)
    span = T + holdout
    n_all = rng.poisson(lam * span)
    share = np.divide(T, span, out=np.ones_like(T), where=span > 0)
    n_cal = rng.binomial(n_all, share)
    x = np.minimum(n_cal, k)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), n_cal - x + 1), 0.0)
    x_holdout = np.minimum(n_all, k) - x
    return x.astype(float), t_x, x_holdout.astype(float)


def simulate_pareto_nbd(
    params: Mapping[str, float],
    T: ArrayLike,
    *,
    holdout: float = 0.0,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, x_holdout, no_purchase_in_holdout) for Pareto/NBD customers of ages T.

    lambda ~ Gamma(r, rate alpha), mu ~ Gamma(s, rate beta), lifetime ~ Exponential(mu) from the
    first purchase. The repeat purchases in (0, min(lifetime, T)] are Poisson(lambda * that
    span), the last of x uniform arrival times is span * Beta(x, 1); the holdout count is
    Poisson(lambda * the alive part of (T, T + holdout]).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    n = T.shape
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    mu = rng.gamma(params["s"], 1.0 / params["beta"], size=n)
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    span = np.minimum(lifetime, T)
    x = rng.poisson(lam * span)
    t_x = np.where(x > 0, span * rng.beta(np.maximum(x, 1), 1), 0.0)
    alive_holdout = np.clip(lifetime - T, 0.0, holdout)
    x_holdout = rng.poisson(lam * alive_holdout)
    return x.astype(float), t_x, x_holdout.astype(float), x_holdout == 0
