"""P(at least one purchase within t) under BG/NBD, and the churn_risk bands built on it."""

from __future__ import annotations

import numpy as np
import pytest

from retention_pipeline.predictions import bgnbd_p_alive, simulate_bgnbd
from retention_pipeline.predictions.churn import bgnbd_p_purchase_within, churn_risk_band

PARAMS = {"r": 0.6, "alpha": 5.0, "a": 0.7, "b": 2.2}


def test_matches_the_share_of_simulated_customers_who_buy_in_the_holdout():
    """Sum of probabilities = expected number of customers with a holdout purchase."""
    T = np.full(400_000, 40.0)
    x, t_x, holdout = simulate_bgnbd(PARAMS, T, holdout=26.0, seed=5)
    predicted = bgnbd_p_purchase_within(PARAMS, 26.0, x, t_x, T)
    bought = holdout > 0
    se = np.sqrt(np.sum(predicted * (1 - predicted)))
    assert abs(predicted.sum() - bought.sum()) < 4 * se
    # one-time buyers (P(alive) = 1 for all of them) still differ: the history says how slow
    one_time = x == 0
    se0 = np.sqrt(np.sum(predicted[one_time] * (1 - predicted[one_time])))
    assert abs(predicted[one_time].sum() - bought[one_time].sum()) < 4 * se0
    heavy = x >= 5
    se5 = np.sqrt(np.sum(predicted[heavy] * (1 - predicted[heavy])))
    assert abs(predicted[heavy].sum() - bought[heavy].sum()) < 4 * se5


def test_hand_worked_values_and_limits():
    r, alpha = PARAMS["r"], PARAMS["alpha"]
    # a new customer (x = t_x = T = 0): 1 - (alpha / (alpha + t))^r
    assert bgnbd_p_purchase_within(PARAMS, 10.0, 0, 0, 0) == pytest.approx(
        1 - (alpha / (alpha + 10.0)) ** r, rel=1e-12
    )
    # one-time buyer of age 20: the rate posterior is Gamma(r, alpha + 20)
    assert bgnbd_p_purchase_within(PARAMS, 10.0, 0, 0, 20.0) == pytest.approx(
        1 - ((alpha + 20) / (alpha + 30)) ** r, rel=1e-12
    )
    x, t_x, T = np.array([0.0, 3, 8]), np.array([0.0, 10, 12]), np.array([30.0, 30, 30])
    assert np.all(bgnbd_p_purchase_within(PARAMS, 0.0, x, t_x, T) == 0)
    far = bgnbd_p_purchase_within(PARAMS, 1e12, x, t_x, T)
    np.testing.assert_allclose(far, bgnbd_p_alive(PARAMS, x, t_x, T), rtol=1e-6)
    longer = bgnbd_p_purchase_within(PARAMS, 20.0, x, t_x, T)
    assert np.all(longer > bgnbd_p_purchase_within(PARAMS, 10.0, x, t_x, T))


def test_rejects_a_negative_horizon():
    with pytest.raises(ValueError, match="horizon"):
        bgnbd_p_purchase_within(PARAMS, -1.0, 0, 0, 1.0)


def test_bands_follow_the_thresholds_with_lower_bounds_inclusive():
    p = [0.0, 0.29, 0.3, 0.59, 0.6, 1.0]
    bands = churn_risk_band(p, high_below=0.3, medium_below=0.6)
    assert list(bands) == ["high", "high", "medium", "medium", "low", "low"]
    with pytest.raises(ValueError, match="churn_risk_high_below <= churn_risk_medium_below"):
        churn_risk_band(p, high_below=0.7, medium_below=0.6)


def test_no_purchase_probability_is_the_likelihood_ratio():
    """P(no purchase in (T, T + t]) = L(x, t_x, T + t) / L(x, t_x, T): an independent route."""
    from retention_pipeline.predictions.bgnbd import bgnbd_log_likelihood

    for x, t_x, T in [(0, 0, 20.0), (3, 10.0, 30.0), (12, 29.0, 30.0)]:
        ratio = np.exp(
            bgnbd_log_likelihood(PARAMS, x, t_x, T + 13.0) - bgnbd_log_likelihood(PARAMS, x, t_x, T)
        )
        assert 1 - bgnbd_p_purchase_within(PARAMS, 13.0, x, t_x, T) == pytest.approx(ratio, rel=1e-10)
