"""Pareto/NBD: the published CDNOW estimates, the 2F1 terms against numerical integration, and the
conditional quantities against lifetimes and against simulated customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from retention_pipeline.predictions.paretonbd import (
    GRADIENT_STEP,
    S_MAX,
    _Patterns,
    fit_pareto_nbd,
    log_dropout_integral,
    pareto_nbd_expected_purchases,
    pareto_nbd_log_likelihood,
    pareto_nbd_p_alive,
    pareto_nbd_p_no_purchase,
)
from retention_pipeline.predictions.simulate import simulate_pareto_nbd
from retention_pipeline.predictions.summary import customer_summary
from tests import cdnow

PUBLISHED = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
PUBLISHED_LL = -9595.0


@pytest.fixture(scope="module")
def own_summary() -> pd.DataFrame:
    return customer_summary(cdnow.transactions(), cdnow.CALIBRATION_END, cdnow.WEEK)


@pytest.fixture(scope="module")
def cdnow_fit(own_summary):
    return fit_pareto_nbd(own_summary["x"], own_summary["t_x"], own_summary["T"])


def test_cdnow_fit_reproduces_published_estimates(cdnow_fit):
    assert cdnow_fit.ok and cdnow_fit.converged, cdnow_fit.message
    assert cdnow_fit.n_customers == 2357 and not cdnow_fit.at_bounds
    for name, published in PUBLISHED.items():
        assert cdnow_fit.params[name] == pytest.approx(published, rel=0.01), name
    assert cdnow_fit.log_likelihood == pytest.approx(PUBLISHED_LL, rel=0.01)
    assert cdnow_fit.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.5)


def test_cdnow_one_time_buyers_are_not_all_alive(cdnow_fit, own_summary):
    s = own_summary
    p = pareto_nbd_p_alive(cdnow_fit, s["x"], s["t_x"], s["T"])
    one_time = s["x"].to_numpy() == 0
    assert np.all(p[one_time] < 1) and p[one_time].min() < 0.5
    assert np.all((p > 0) & (p <= 1))


def test_cdnow_fit_agrees_with_lifetimes():
    from lifetimes import ParetoNBDFitter

    s = cdnow.summary_file()
    reference = ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"])
    ours = fit_pareto_nbd(s["frequency"], s["recency"], s["T"])
    for name in PUBLISHED:
        assert ours.params[name] == pytest.approx(reference.params_[name], rel=2e-3), name


# (r, alpha, s, beta, x, t_x, T): both 2F1 branches (alpha >= beta, alpha < beta), alpha = beta,
# heavy buyers, a one-time buyer, tiny and huge gaps.
INTEGRAL_CASES = [
    (0.553, 10.58, 0.606, 11.67, 0, 0, 38.86),
    (0.553, 10.58, 0.606, 11.67, 5, 20.3, 38.86),
    (0.553, 10.58, 0.606, 11.67, 29, 38.0, 38.86),
    (0.8, 20.0, 1.4, 3.0, 2, 1.5, 70.0),
    (0.8, 3.0, 1.4, 3.0, 7, 30.0, 52.0),
    (2.0, 0.5, 0.3, 40.0, 60, 5.0, 300.0),
    (0.3, 8.4, 49.9, 1639.0, 0, 0, 0.005),
    (0.3, 8.4, 49.9, 1639.0, 12, 60.0, 105.0),
]


@pytest.mark.parametrize("r, alpha, s, beta, x, t_x, T", INTEGRAL_CASES)
def test_hypergeometric_form_matches_numerical_integration(r, alpha, s, beta, x, t_x, T):
    def integrand(tau):
        return (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1)

    # scaled so that quad sees numbers of order 1
    top = integrand(t_x)
    value, _ = integrate.quad(lambda u: integrand(u) / top, t_x, T, epsrel=1e-12, limit=400)
    expected = np.log(top) + np.log(value)
    assert log_dropout_integral(r, alpha, s, beta, x, t_x, T) == pytest.approx(expected, rel=1e-9)


def test_quadrature_fallback_agrees_with_the_closed_form():
    from retention_pipeline.predictions.paretonbd import _log_dropout_integral_quad

    for case in INTEGRAL_CASES:
        closed = log_dropout_integral(*case)
        assert _log_dropout_integral_quad(*case) == pytest.approx(closed, rel=1e-8), case


def test_likelihood_by_hand_for_a_one_time_buyer():
    r, alpha, s, beta = PUBLISHED.values()
    T = 30.0
    dropout, _ = integrate.quad(lambda t: (alpha + t) ** -r * (beta + t) ** -(s + 1), 0, T)
    by_hand = np.log(alpha**r * beta**s * ((alpha + T) ** -r * (beta + T) ** -s + s * dropout))
    assert pareto_nbd_log_likelihood(PUBLISHED, 0, 0, T) == pytest.approx(by_hand, rel=1e-10)


def _lifetimes_model(params):
    from lifetimes import ParetoNBDFitter

    model = ParetoNBDFitter()
    model.params_ = pd.Series(params)[["r", "alpha", "s", "beta"]]
    return model


def _sample(s: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([s[s["x"] == 0].head(15), s.nlargest(15, "x"), s.sample(60, random_state=1)])


def test_p_alive_matches_lifetimes(own_summary):
    sample = _sample(own_summary)
    reference = _lifetimes_model(PUBLISHED).conditional_probability_alive(
        sample["x"], sample["t_x"], sample["T"]
    )
    ours = pareto_nbd_p_alive(PUBLISHED, sample["x"], sample["t_x"], sample["T"])
    np.testing.assert_allclose(ours, reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("t", [39.0, 52.0])
def test_conditional_expected_purchases_match_lifetimes(own_summary, t):
    sample = _sample(own_summary)
    reference = _lifetimes_model(PUBLISHED).conditional_expected_number_of_purchases_up_to_time(
        t, sample["x"], sample["t_x"], sample["T"]
    )
    ours = pareto_nbd_expected_purchases(PUBLISHED, t, sample["x"], sample["t_x"], sample["T"])
    np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_expected_purchases_of_a_new_customer_is_the_unconditional_curve():
    r, alpha, s, beta = PUBLISHED.values()
    t = np.array([1.0, 10.0, 52.0, 500.0])
    unconditional = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    np.testing.assert_allclose(pareto_nbd_expected_purchases(PUBLISHED, t, 0, 0, 0), unconditional)
    # s = 1 is a removable singularity: the logarithmic limit, continuous on both sides
    near = [pareto_nbd_expected_purchases({**PUBLISHED, "s": v}, 52.0, 3, 20, 40) for v in
            (1 - 1e-6, 1.0, 1 + 1e-6)]
    np.testing.assert_allclose(near, near[1], rtol=1e-5)


@pytest.fixture(scope="module")
def simulated():
    params = {"r": 0.7, "alpha": 6.0, "s": 0.9, "beta": 14.0}
    rng = np.random.default_rng(7)
    T = rng.uniform(20.0, 80.0, 60_000).round(1)
    x, t_x, holdout, none = simulate_pareto_nbd(params, T, holdout=30.0, seed=rng)
    return params, x, t_x, T, holdout, none


def test_recovers_known_parameters_from_simulated_customers(simulated):
    params, x, t_x, T, _, _ = simulated
    fit = fit_pareto_nbd(x, t_x, T)
    assert fit.ok, fit.message
    for name, value in params.items():
        assert fit.params[name] == pytest.approx(value, rel=0.12), name


@pytest.mark.parametrize("alpha, beta", [(6.0, 14.0), (14.0, 6.0)])  # both forms of 2F1's c
def test_the_fit_evaluates_2f1_per_distinct_pair_with_the_same_values(simulated, alpha, beta):
    """The fit computes each 2F1 edge term once per distinct (x, t_x) and (x, T) and gathers:
    exactly the values of the row-by-row computation, for far fewer 2F1 calls."""
    _, x, t_x, T, _, _ = simulated
    patterns = _Patterns.of(x, t_x, T, np.ones_like(x))
    early, late = patterns.pairs
    assert len(late.x) < len(x) / 2  # T has one decimal: many customers share (x, T)
    assert len(early.x) < len(x)  # every one-time buyer shares (0, 0)
    plain = log_dropout_integral(0.7, alpha, 0.9, beta, x, t_x, T)
    gathered = log_dropout_integral(0.7, alpha, 0.9, beta, x, t_x, T, pairs=patterns.pairs)
    np.testing.assert_array_equal(gathered, plain)


def test_the_objective_is_the_central_difference_however_many_cores_evaluate_it(simulated):
    _, x, t_x, T, _, _ = simulated
    patterns = _Patterns.of(x, t_x / 50, T / 50, np.ones_like(x))
    point = np.log([0.7, 0.12, 0.9, 0.28])
    value, gradient = patterns.objective(point)
    assert value == patterns.mean_negative_ll(point)
    for i, step in enumerate(GRADIENT_STEP * np.eye(4)):
        one_by_one = (patterns.mean_negative_ll(point + step)
                      - patterns.mean_negative_ll(point - step)) / (2 * GRADIENT_STEP)
        assert gradient[i] == one_by_one


def test_conditional_expectations_predict_the_simulated_holdout(simulated):
    params, x, t_x, T, holdout, none = simulated
    expected = pareto_nbd_expected_purchases(params, 30.0, x, t_x, T)
    p_none = pareto_nbd_p_no_purchase(params, 30.0, x, t_x, T)
    for group in (x == 0, (x >= 1) & (x <= 3), x >= 4):
        # each customer's holdout count is Poisson-mixed; 5 % of the total is generous
        assert expected[group].sum() == pytest.approx(holdout[group].sum(), rel=0.05)
        se = np.sqrt(np.sum(p_none[group] * (1 - p_none[group])))
        assert abs(p_none[group].sum() - none[group].sum()) < 4 * se
    # P(no purchase) >= P(dead): a dead customer never buys
    assert np.all(p_none >= 1 - pareto_nbd_p_alive(params, x, t_x, T) - 1e-12)


def test_p_no_purchase_limits():
    x, t_x, T = np.array([0.0, 2, 10]), np.array([0.0, 5, 30]), np.array([40.0, 40, 40])
    np.testing.assert_allclose(pareto_nbd_p_no_purchase(PUBLISHED, 0.0, x, t_x, T), 1.0)
    near = pareto_nbd_p_no_purchase(PUBLISHED, 10.0, x, t_x, T)
    far = pareto_nbd_p_no_purchase(PUBLISHED, 1e6, x, t_x, T)
    alive = pareto_nbd_p_alive(PUBLISHED, x, t_x, T)
    # never buying again: dead already, or alive and dying before the next purchase
    assert np.all(far < near) and np.all(far > 1 - alive)


def test_homogeneous_dropout_fits_at_the_s_bound_and_still_predicts():
    """Every customer with the same dropout rate: s, beta -> inf with s / beta fixed."""
    rng = np.random.default_rng(3)
    T = rng.uniform(20.0, 100.0, 20_000).round(1)
    mu = 0.02
    x, t_x, _, _ = simulate_pareto_nbd(
        {"r": 0.8, "alpha": 5.0, "s": 1e6, "beta": 1e6 / mu}, T, seed=rng
    )
    fit = fit_pareto_nbd(x, t_x, T)
    assert fit.ok and fit.at_bounds == ("s",), fit.message
    assert fit.params["s"] == pytest.approx(S_MAX)
    assert fit.params["s"] / fit.params["beta"] == pytest.approx(mu, rel=0.25)
    assert np.all(np.isfinite(pareto_nbd_expected_purchases(fit, 52.0, x, t_x, T)))
