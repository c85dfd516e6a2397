"""Customer lifetime value over a finite horizon: BG/NBD purchases x Gamma-Gamma value, discounted.

Convention (discrete-time, end-of-period discounting; the same as lifetimes'
`customer_lifetime_value`): the horizon is cut into `periods` periods of `period_length` time
units (the unit of x, t_x, T), and

    CLV = sum_{i=1..periods} value * (E[X(i L)] - E[X((i - 1) L)]) / (1 + d)^i

where E[X(s)] is the BG/NBD conditional expected number of purchases in the next s units, L the
period length and d the discount rate *per period*. lifetimes' `time` months with `freq="W"`
is periods = time, L = 4.345 weeks; with `freq="D"`, L = 30 days; its `discount_rate` is this d.
An annual rate D becomes d = (1 + D) ** (L / units_per_year) - 1. With d = 0 the sum telescopes
to value * E[X(periods * L)].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .bgnbd import Params, bgnbd_expected_purchases, validate_history
from .fitting import compress_rows


def clv(
    bgnbd_params: Params,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    expected_value: ArrayLike,
    *,
    periods: int,
    period_length: float,
    discount_rate: float,
    expected_purchases=bgnbd_expected_purchases,
) -> np.ndarray:
    """Discounted expected value of each customer's purchases over `periods * period_length`.

    `expected_value` is the expected value of one future occasion (e.g.
    `gamma_gamma_expected_value`), per customer or a scalar. `expected_purchases` is the purchase
    model's conditional expectation (params, t, x, t_x, T) -> E[X(T, T + t]]; BG/NBD by default,
    `pareto_nbd_expected_purchases` for a Pareto/NBD fit.
    """
    if int(periods) != periods or periods < 1:
        raise ValueError(f"periods must be a positive integer, got {periods}")
    if not (np.isfinite(period_length) and period_length > 0):
        raise ValueError(f"period_length must be > 0, got {period_length}")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError(f"discount_rate must be > -1, got {discount_rate}")
    x, t_x, T = validate_history(x, t_x, T)
    value = np.broadcast_to(np.asarray(expected_value, dtype=float), x.shape)
    # The purchase curve depends only on (x, t_x, T): evaluate it once per distinct history.
    (xu, tu, Tu), _, inverse = compress_rows(x.ravel(), t_x.ravel(), T.ravel())
    boundaries = np.arange(periods + 1, dtype=float)[:, None] * period_length
    cumulative = expected_purchases(
        bgnbd_params, boundaries, xu, tu, Tu
    )  # (periods+1, patterns)
    discount = (1.0 + discount_rate) ** -np.arange(1, periods + 1, dtype=float)
    discounted_purchases = discount @ np.diff(cumulative, axis=0)
    return value * discounted_purchases[inverse].reshape(x.shape)
