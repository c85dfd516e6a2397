"""Gamma-Gamma: which monetary definition reproduces the published CDNOW estimates, the fit vs
the published numbers and vs lifetimes, formulas vs numerical integration, guardrails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from retention_pipeline.predictions import (
    customer_summary,
    fit_gamma_gamma,
    gamma_gamma_expected_value,
    gamma_gamma_log_likelihood,
)
from tests import cdnow

PARAMS = cdnow.GAMMA_GAMMA_PUBLISHED


@pytest.fixture(scope="module")
def own_summary() -> pd.DataFrame:
    return customer_summary(cdnow.transactions(), cdnow.CALIBRATION_END, cdnow.WEEK)


def _off_published(fit) -> float:
    return max(abs(fit.params[k] / v - 1) for k, v in PARAMS.items())


def test_monetary_is_mean_of_repeat_day_totals(own_summary):
    """Our monetary (per-day totals, first day excluded) is the file's zbar to 2 decimals."""
    spend_file = cdnow.summary_with_spend_file()
    s = own_summary
    assert s["customer_id"].tolist() == spend_file["ID"].tolist()
    repeat = s["x"].to_numpy() > 0
    assert repeat.sum() == 946
    np.testing.assert_array_less(
        np.abs(s["monetary"][repeat] - spend_file["zbar"][repeat]), 0.005 + 1e-9
    )
    assert s["monetary"][~repeat].isna().all()


@pytest.mark.parametrize("source", ["own", "file"])
def test_cdnow_fit_reproduces_published_estimates(own_summary, source):
    if source == "own":
        x, m = own_summary["x"], own_summary["monetary"]
    else:
        spend_file = cdnow.summary_with_spend_file()
        x, m = spend_file["x"], spend_file["zbar"].where(spend_file["x"] > 0)
    fit = fit_gamma_gamma(x, m)
    assert fit.ok and fit.converged, fit.message
    assert fit.n_customers == 946 and fit.n_excluded == 0
    assert _off_published(fit) < 0.01, fit.params


def test_other_monetary_definitions_miss_the_published_estimates(own_summary):
    """Why the definition matters: including the first day, or averaging raw transaction lines
    instead of per-day totals, gives estimates more than 1% away from the published ones."""
    tx = cdnow.transactions()
    tx = tx[tx["occasion_date"] <= cdnow.CALIBRATION_END]
    first_day = tx.groupby("customer_id")["occasion_date"].transform("min")
    x = own_summary.set_index("customer_id")["x"]

    days = tx.groupby(["customer_id", "occasion_date"])["occasion_value"].sum()
    with_first = days.groupby("customer_id").mean()
    line_mean = tx[tx["occasion_date"] > first_day].groupby("customer_id")["occasion_value"].mean()

    for monetary in (with_first, line_mean):
        m = monetary.reindex(x.index)
        fit = fit_gamma_gamma(x.to_numpy(), m.where(x > 0).to_numpy())
        assert fit.ok and _off_published(fit) > 0.01


def test_analytic_gradient_matches_finite_differences(own_summary):
    from retention_pipeline.predictions.gamma_gamma import _Patterns

    repeat = own_summary[own_summary["x"] > 0]
    patterns = _Patterns(repeat["x"].to_numpy(float), repeat["monetary"].to_numpy(), np.ones(946))
    for point in ([0.0, 0.0, 0.0], np.log([6.25, 3.74, 15.44]), [1.0, -0.5, 3.0]):
        error = optimize.check_grad(
            lambda v: patterns.objective(v)[0], lambda v: patterns.objective(v)[1], point
        )
        assert error < 1e-5, point  # a wrong term shows up as O(0.01) or more


def test_fit_agrees_with_lifetimes(own_summary):
    from lifetimes import GammaGammaFitter

    repeat = own_summary[own_summary["x"] > 0]
    reference = GammaGammaFitter().fit(repeat["x"], repeat["monetary"]).params_
    fit = fit_gamma_gamma(own_summary["x"], own_summary["monetary"])
    for ours, theirs in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert fit.params[ours] == pytest.approx(reference[theirs], rel=1e-3), ours


def test_expected_value_matches_lifetimes(own_summary):
    from lifetimes import GammaGammaFitter

    model = GammaGammaFitter()
    model.params_ = pd.Series({"p": PARAMS["p"], "q": PARAMS["q"], "v": PARAMS["gamma"]})
    s = own_summary
    reference = model.conditional_expected_average_profit(s["x"], s["monetary"].fillna(0.0))
    ours = gamma_gamma_expected_value(PARAMS, s["x"], s["monetary"])
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)
    population_mean = PARAMS["p"] * PARAMS["gamma"] / (PARAMS["q"] - 1)
    assert np.allclose(ours[s["x"].to_numpy() == 0], population_mean)


@pytest.mark.parametrize("x, m", [(1, 11.77), (2, 22.345), (7, 40.0), (30, 3.5)])
def test_log_likelihood_matches_numerical_integration(x, m):
    """Density of the mean of x Gamma(p, nu) values, nu ~ Gamma(q, gamma), integrated over nu."""
    p, q, gamma = PARAMS["p"], PARAMS["q"], PARAMS["gamma"]

    def joint(nu):  # the mean of x iid Gamma(p, rate nu) values is Gamma(p x, rate x nu)
        return stats.gamma.pdf(m, p * x, scale=1 / (x * nu)) * stats.gamma.pdf(
            nu, q, scale=1 / gamma
        )

    density = integrate.quad(joint, 0, np.inf, limit=400, epsabs=0, epsrel=1e-11)[0]
    assert gamma_gamma_log_likelihood(PARAMS, [x], [m]) == pytest.approx(np.log(density), abs=1e-7)


def test_expected_value_by_hand():
    """p (gamma + x m) / (p x + q - 1): x = 2, m = 20 with p = 6.25, q = 3.74, gamma = 15.44."""
    expected = 6.25 * (15.44 + 2 * 20) / (6.25 * 2 + 3.74 - 1)
    assert gamma_gamma_expected_value(PARAMS, 2, 20.0) == pytest.approx(expected, rel=1e-12)


def _simulate(p, q, gamma, n, seed):
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / gamma, n)
    x = rng.integers(1, 8, n).astype(float)
    return x, rng.gamma(p * x, 1 / nu) / x  # a sum of x Gamma(p, nu) values is Gamma(p x, nu)


def test_recovers_simulated_parameters():
    x, m = _simulate(6.0, 4.0, 15.0, 5000, seed=11)
    fit = fit_gamma_gamma(x, m)
    assert fit.ok
    for name, true in {"p": 6.0, "q": 4.0, "gamma": 15.0}.items():
        assert fit.params[name] == pytest.approx(true, rel=0.2), name
    fitted_mean = fit.params["p"] * fit.params["gamma"] / (fit.params["q"] - 1)
    assert fitted_mean == pytest.approx(6.0 * 15.0 / 3.0, rel=0.05)


# --- guardrails ---


def test_too_few_repeat_customers_is_reported():
    fit = fit_gamma_gamma([0, 0, 1, 2], [np.nan, np.nan, 10.0, 12.0], min_repeat_customers=3)
    assert fit.status == "too_few_repeat_customers" and fit.params is None and fit.n_customers == 2


def test_zero_spend_customers_are_excluded_and_counted():
    x, m = _simulate(6.0, 4.0, 15.0, 400, seed=2)
    x = np.concatenate([x, [1.0, 3.0], [0.0]])
    m = np.concatenate([m, [0.0, 0.0], [np.nan]])
    fit = fit_gamma_gamma(x, m)
    assert fit.ok and fit.n_customers == 400 and fit.n_excluded == 2
    assert fit.params == pytest.approx(fit_gamma_gamma(x[:400], m[:400]).params, rel=1e-9)
    value = gamma_gamma_expected_value(fit, [1.0, 0.0], [0.0, np.nan])
    assert np.all(np.isfinite(value)) and value[0] < value[1]  # a zero-spend buyer is pulled down


def test_infinite_mean_spend_is_degenerate():
    x, m = _simulate(6.0, 0.6, 15.0, 5000, seed=5)  # q < 1: E[spend] is infinite
    fit = fit_gamma_gamma(x, m)
    assert fit.status == "degenerate" and fit.params is None and "q" in fit.message
    with pytest.raises(ValueError, match="q = 0.9"):
        gamma_gamma_expected_value({"p": 6.0, "q": 0.9, "gamma": 15.0}, [1], [10.0])


@pytest.mark.parametrize("x, m", [([1], [-5.0]), ([2], [np.nan]), ([1.5], [3.0])])
def test_invalid_inputs_raise(x, m):
    with pytest.raises(ValueError):
        fit_gamma_gamma(x, m)
