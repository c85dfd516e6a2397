"""Churn risk from the BG/NBD model: the chance of at least one more occasion within a horizon.

Why not P(alive) alone: in BG/NBD a customer can only drop out right after a repeat purchase,
so every one-time buyer has P(alive) = 1, however long ago they bought; most customers of most
shops are one-time buyers. The probability of buying again within t,

    P(X(T, T + t] > 0 | x, t_x, T) = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ^ (r + x)),

is informative for everyone. It is exact in the model: a customer alive at T can only drop out
after a purchase, so "no purchase in (T, T + t]" is "no Poisson arrival in it", and the purchase
rate of a customer alive at T is Gamma(r + x, alpha + T) (the posterior given the history).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .bgnbd import PARAM_NAMES, Params, bgnbd_p_alive, validate_history
from .fitting import as_params

BANDS = ("low", "medium", "high")


def bgnbd_p_purchase_within(
    params: Params, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """P(at least one occasion in the next `t` time units | x, t_x, T) under BG/NBD."""
    r, alpha, _, _ = as_params(params, PARAM_NAMES)
    x, t_x, T = validate_history(x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t (horizon) must be finite and >= 0")
    # (alpha + T) / (alpha + T + t) = 1 - t / (alpha + T + t); log1p/expm1 keep small t exact.
    log_none_if_alive = (r + x) * np.log1p(-t / (alpha + T + t))
    return bgnbd_p_alive(params, x, t_x, T) * -np.expm1(log_none_if_alive)


def check_band_thresholds(high_below: float, medium_below: float) -> None:
    if not (0 <= high_below <= medium_below <= 1):
        raise ValueError(
            "churn risk thresholds need 0 <= churn_risk_high_below <= churn_risk_medium_below <= 1, "
            f"got {high_below} and {medium_below}"
        )


def churn_risk_band(
    p_purchase: ArrayLike, *, high_below: float, medium_below: float
) -> np.ndarray:
    """'high' below `high_below`, 'medium' below `medium_below`, else 'low' (per history
    in scoring.py)."""
    check_band_thresholds(high_below, medium_below)
    p = np.asarray(p_purchase, dtype=float)
    return np.where(p < high_below, "high", np.where(p < medium_below, "medium", "low"))
