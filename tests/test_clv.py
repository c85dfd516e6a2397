"""CLV: lifetimes' discounting convention on CDNOW, the undiscounted telescoping sum, a direct
period-by-period computation, and argument checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retention_pipeline.predictions import (
    bgnbd_expected_purchases,
    clv,
    customer_summary,
    gamma_gamma_expected_value,
)
from tests import cdnow

BGNBD = cdnow.BGNBD_PUBLISHED
GG = cdnow.GAMMA_GAMMA_PUBLISHED


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return customer_summary(cdnow.transactions(), cdnow.CALIBRATION_END, cdnow.WEEK)


def test_matches_lifetimes_monthly_discounting_in_weeks(summary):
    """lifetimes: `time` months, freq="W" = 4.345 weeks a month, `discount_rate` per month."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    bgf, ggf = BetaGeoFitter(), GammaGammaFitter()
    bgf.params_ = pd.Series(BGNBD)[["r", "alpha", "a", "b"]]
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # set by fit() only
    ggf.params_ = pd.Series({"p": GG["p"], "q": GG["q"], "v": GG["gamma"]})
    s = summary
    reference = ggf.customer_lifetime_value(
        bgf,
        s["x"],
        s["t_x"],
        s["T"],
        s["monetary"].fillna(0.0),
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    value = gamma_gamma_expected_value(GG, s["x"], s["monetary"])
    ours = clv(
        BGNBD, s["x"], s["t_x"], s["T"], value, periods=12, period_length=4.345, discount_rate=0.01
    )
    np.testing.assert_allclose(ours, reference.to_numpy(), atol=1e-4, rtol=1e-9)
    assert ours.max() > 100  # heavy buyers: the comparison is not among near-zeros only


def test_undiscounted_clv_telescopes_to_value_times_expected_purchases(summary):
    s = summary.head(300)
    value = gamma_gamma_expected_value(GG, s["x"], s["monetary"])
    ours = clv(
        BGNBD, s["x"], s["t_x"], s["T"], value, periods=6, period_length=52 / 6, discount_rate=0.0
    )
    np.testing.assert_allclose(
        ours, value * bgnbd_expected_purchases(BGNBD, 52.0, s["x"], s["t_x"], s["T"]), rtol=1e-10
    )


def test_direct_period_by_period_sum():
    """Annual 10% rate, 12 monthly periods in days: discounted monthly increments, by hand."""
    x, t_x, T, value = 3.0, 200.0, 300.0, 42.0
    params = dict(BGNBD, alpha=BGNBD["alpha"] * 7)  # the same customers measured in days
    month = 365 / 12
    monthly_rate = 1.1 ** (1 / 12) - 1
    total = 0.0
    for i in range(1, 13):
        bought = bgnbd_expected_purchases(params, i * month, x, t_x, T) - bgnbd_expected_purchases(
            params, (i - 1) * month, x, t_x, T
        )
        total += value * bought / (1 + monthly_rate) ** i
    ours = clv(
        params, [x], [t_x], [T], value, periods=12, period_length=month, discount_rate=monthly_rate
    )
    assert ours[0] == pytest.approx(total, rel=1e-12)
    cheaper_money = clv(
        params, [x], [t_x], [T], value, periods=12, period_length=month, discount_rate=0.0
    )
    assert cheaper_money[0] > ours[0]


def test_shape_and_empty_input():
    assert clv(BGNBD, [], [], [], 10.0, periods=3, period_length=4.0, discount_rate=0.01).shape == (
        0,
    )
    out = clv(
        BGNBD,
        [0, 2, 0],
        [0.0, 5.0, 0.0],
        [10.0, 10.0, 10.0],
        [5.0, 6.0, 7.0],
        periods=2,
        period_length=4.0,
        discount_rate=0.01,
    )
    assert out.shape == (3,) and out[2] == pytest.approx(
        out[0] * 7 / 5
    )  # same history, value scales


@pytest.mark.parametrize(
    "kwargs", [{"periods": 0}, {"periods": 1.5}, {"period_length": 0.0}, {"discount_rate": -1.0}]
)
def test_invalid_arguments_raise(kwargs):
    arguments = {"periods": 12, "period_length": 30.0, "discount_rate": 0.01} | kwargs
    with pytest.raises(ValueError):
        clv(BGNBD, [1], [2.0], [3.0], 10.0, **arguments)
