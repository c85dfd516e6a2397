"""BG/NBD: published CDNOW estimates, formulas vs lifetimes and vs numerical integration,
weight compression, parameter recovery on simulated customers, guardrails."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize
from scipy.special import betaln, gammaln

from retention_pipeline.predictions import (
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    compress_rows,
    customer_summary,
    fit_bgnbd,
    simulate_bgnbd,
)
from tests import cdnow

PARAMS = cdnow.BGNBD_PUBLISHED


@pytest.fixture(scope="module")
def own_summary() -> pd.DataFrame:
    return customer_summary(cdnow.transactions(), cdnow.CALIBRATION_END, cdnow.WEEK)


@pytest.fixture(scope="module")
def file_summary() -> pd.DataFrame:
    s = cdnow.summary_file()
    return pd.DataFrame({"x": s["frequency"], "t_x": s["recency"], "T": s["T"]})


def _assert_published(fit):
    assert fit.ok and fit.converged, fit.message
    assert fit.n_customers == 2357
    for name, published in PARAMS.items():
        assert fit.params[name] == pytest.approx(published, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(cdnow.BGNBD_PUBLISHED_LL, abs=0.5)


@pytest.mark.parametrize("source", ["own_summary", "file_summary"])
def test_cdnow_fit_reproduces_published_estimates(source, request):
    s = request.getfixturevalue(source)
    _assert_published(fit_bgnbd(s["x"], s["t_x"], s["T"]))


def test_cdnow_fit_agrees_with_lifetimes_fit(file_summary):
    from lifetimes import BetaGeoFitter

    s = file_summary
    reference = BetaGeoFitter().fit(s["x"], s["t_x"], s["T"]).params_
    fit = fit_bgnbd(s["x"], s["t_x"], s["T"])
    for name in ("r", "alpha", "a", "b"):
        assert fit.params[name] == pytest.approx(reference[name], rel=1e-3), name


def _lifetimes_model(params):
    from lifetimes import BetaGeoFitter

    model = BetaGeoFitter()
    model.params_ = pd.Series(params)[["r", "alpha", "a", "b"]]
    return model


def _cdnow_sample(s: pd.DataFrame) -> pd.DataFrame:
    """Zero, typical and the heaviest buyers, so every branch of the formulas is exercised."""
    heavy = s.nlargest(15, "x")
    zeros = s[s["x"] == 0].head(15)
    rest = s.sample(60, random_state=1)
    return pd.concat([zeros, heavy, rest])


@pytest.mark.parametrize("t", [39.0, 52.0])
def test_conditional_expected_purchases_match_lifetimes(own_summary, t):
    sample = _cdnow_sample(own_summary)
    assert sample["x"].max() >= 20 and (sample["x"] == 0).any()
    reference = _lifetimes_model(PARAMS).conditional_expected_number_of_purchases_up_to_time(
        t, sample["x"], sample["t_x"], sample["T"]
    )
    ours = bgnbd_expected_purchases(PARAMS, t, sample["x"], sample["t_x"], sample["T"])
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)


def test_p_alive_matches_lifetimes(own_summary):
    sample = _cdnow_sample(own_summary)
    reference = _lifetimes_model(PARAMS).conditional_probability_alive(
        sample["x"], sample["t_x"], sample["T"]
    )
    ours = bgnbd_p_alive(PARAMS, sample["x"], sample["t_x"], sample["T"])
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)
    assert np.all(ours[sample["x"].to_numpy() == 0] == 1.0)  # no repeat purchase, no dropout yet


def test_new_customer_expectation_is_the_unconditional_curve():
    """x = t_x = T = 0 is eq. 9, E[X(t)] for a newly acquired customer."""
    t = np.array([1.0, 10.0, 52.0, 200.0])
    reference = _lifetimes_model(PARAMS).expected_number_of_purchases_up_to_time(t)
    np.testing.assert_allclose(bgnbd_expected_purchases(PARAMS, t, 0, 0, 0), reference, rtol=1e-9)


# --- independent numerical checks: integrate the individual-level model over the mixing laws ---


def _integrated(params, x, t_x, T, t):
    """(log-likelihood, P(alive), E[X(t) | data]) by quadrature over p, with lambda integrated
    in closed form: E_lambda[lambda^x e^{-lambda s}]
    = Gamma(r + x) / Gamma(r) alpha^r / (alpha + s)^(r + x), taken relative to s = T."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    log_moment_T = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)

    def moment(s):  # E_lambda[lambda^x e^{-lambda s}] / E_lambda[lambda^x e^{-lambda T}]
        return ((alpha + T) / (alpha + s)) ** (r + x)

    def beta_mean(f):
        # E[f(p)], p ~ Beta(a, b); p = u^(1/a) removes the p^(a-1) singularity at 0, so quad is
        # accurate even when (1 - p)^x squeezes the mass next to it.
        def density(u):
            return f(u ** (1 / a)) * (1 - u ** (1 / a)) ** (b - 1) / a / np.exp(betaln(a, b))

        points = [1e-8, 1e-6, 1e-4, 1e-2]
        return integrate.quad(density, 0, 1, limit=500, epsabs=0, epsrel=1e-11, points=points)[0]

    alive = beta_mean(lambda p: (1 - p) ** x)
    dead = beta_mean(lambda p: p * (1 - p) ** (x - 1)) * moment(t_x) if x > 0 else 0.0
    # An alive customer with rate lambda and dropout p buys E[min(N(t), K)]
    # = (1 - e^{-lambda p t}) / p in the next t.
    future = beta_mean(lambda p: (1 - p) ** x / p * (1 - moment(T + p * t)))
    likelihood = alive + dead
    return np.log(likelihood) + log_moment_T, alive / likelihood, future / likelihood


@pytest.mark.parametrize(
    "x, t_x, T",
    [
        (0, 0.0, 30.0),
        (1, 2.0, 38.9),
        (4, 30.0, 35.0),
        (12, 10.0, 38.0),
        (30, 37.5, 38.0),
        (60, 36.0, 36.5),
    ],
)
def test_formulas_match_numerical_integration(x, t_x, T):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)  # asked for more than needed
        log_likelihood, p_alive, expected = _integrated(PARAMS, x, t_x, T, t=52.0)
    assert bgnbd_log_likelihood(PARAMS, [x], [t_x], [T]) == pytest.approx(log_likelihood, abs=1e-7)
    assert bgnbd_p_alive(PARAMS, x, t_x, T) == pytest.approx(p_alive, abs=1e-7)
    assert bgnbd_expected_purchases(PARAMS, 52.0, x, t_x, T) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "params, x, t_x, T, t",
    [
        # a > 1 and a horizon far beyond alpha + T: scipy's 2F1 returns NaN here, so the
        # quadrature fallback answers.
        ({"r": 1.0, "alpha": 1.0, "a": 5.0, "b": 0.5}, 200, 0.9, 1.0, 100.0),
        ({"r": 1000.0, "alpha": 1.0, "a": 5.0, "b": 2.5}, 3, 0.5, 1.0, 100.0),
        ({"r": 1000.0, "alpha": 1.0, "a": 5.0, "b": 2.5}, 0, 0.0, 1.0, 100.0),
    ],
)
def test_fallback_where_scipy_hyp2f1_fails(params, x, t_x, T, t):
    from scipy.special import hyp2f1

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    assert np.isnan(hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, t / (alpha + T + t)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        _, _, expected = _integrated(params, x, t_x, T, t)
    ours = bgnbd_expected_purchases(params, t, [x, x], [t_x, t_x], [T, T])
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_zero_repeat_log_likelihood_by_hand():
    """x = 0: the Beta terms cancel and LL = r log(alpha / (alpha + T))."""
    r, alpha = PARAMS["r"], PARAMS["alpha"]
    T = np.array([1.0, 20.0, 38.86])
    expected = np.sum(r * np.log(alpha / (alpha + T)))
    assert bgnbd_log_likelihood(PARAMS, np.zeros(3), np.zeros(3), T) == pytest.approx(
        expected, rel=1e-12
    )


def test_heavy_buyers_stay_finite_and_ordered():
    """Eq. 10's raw 2F1 factor overflows for big x; the transformed form must not."""
    x = np.array([200.0, 500.0, 500.0, 2000.0])
    t_x = np.array([99.0, 99.5, 20.0, 99.9])
    T = np.full(4, 100.0)
    e = bgnbd_expected_purchases(PARAMS, 52.0, x, t_x, T)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert e[1] > 100 * e[2]  # same history, but lapsed for 80 weeks: almost surely gone
    # A still-active heavy buyer's rate is pinned down by the data: posterior mean rate
    # (r + x) / (alpha + T) per week, times P(alive); dropout within one week is negligible.
    r, alpha = PARAMS["r"], PARAMS["alpha"]
    active = bgnbd_expected_purchases(PARAMS, 1.0, 2000.0, 99.9, 100.0)
    rate = (r + 2000) / (alpha + 100) * bgnbd_p_alive(PARAMS, 2000.0, 99.9, 100.0)
    assert active == pytest.approx(rate, rel=1e-2)


# --- weight compression and speed-relevant structure ---


def test_compress_rows_is_np_unique():
    rng = np.random.default_rng(3)
    cols = [
        rng.integers(0, 4, 5000).astype(float),
        rng.integers(0, 3, 5000) / 7,
        rng.integers(5, 8, 5000) / 7,
    ]
    (u0, u1, u2), weights, inverse = compress_rows(*cols)
    unique, ref_inverse, counts = np.unique(
        np.column_stack(cols), axis=0, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(np.column_stack([u0, u1, u2]), unique)
    np.testing.assert_array_equal(weights, counts)
    np.testing.assert_array_equal(inverse, ref_inverse.ravel())


def test_analytic_gradient_matches_finite_differences(own_summary):
    from retention_pipeline.predictions.bgnbd import _Patterns

    s = own_summary
    patterns = _Patterns.of(*(s[c].to_numpy(float) for c in ("x", "t_x", "T")), np.ones(len(s)))
    for point in (
        [0.0, 0.0, 0.0, 0.0],
        np.log([0.243, 4.414, 0.793, 2.426]),
        [-1.0, 2.0, 0.5, -0.5],
    ):
        error = optimize.check_grad(
            lambda v: patterns.objective(v)[0], lambda v: patterns.objective(v)[1], point
        )
        assert error < 1e-5, point  # a wrong term shows up as O(0.01) or more


def test_the_fit_computes_the_terms_of_x_once_per_distinct_x_with_the_same_values(own_summary):
    """gammaln and digamma of (parameter + x) once per distinct x, gathered to the rows: exactly
    the row-by-row values (2,357 histories, a few dozen distinct x)."""
    from retention_pipeline.predictions.bgnbd import _Patterns, _row_log_likelihood

    s = own_summary
    patterns = _Patterns.of(*(s[c].to_numpy(float) for c in ("x", "t_x", "T")), np.ones(len(s)))
    values, rows = patterns.distinct_x
    assert len(values) < 50 and np.array_equal(values[rows], patterns.x)
    histories = (patterns.x, patterns.t_x, patterns.T)
    plain = _row_log_likelihood(0.24, 4.4, 0.79, 2.4, *histories, with_gradient=True)
    gathered = _row_log_likelihood(0.24, 4.4, 0.79, 2.4, *histories, with_gradient=True,
                                   distinct_x=patterns.distinct_x)
    np.testing.assert_array_equal(gathered[0], plain[0])
    for by_distinct, by_row in zip(gathered[1], plain[1], strict=True):
        np.testing.assert_array_equal(by_distinct, by_row)


def test_weighted_rows_fit_like_the_expanded_rows(file_summary):
    s = file_summary
    (x, t_x, T), w, _ = compress_rows(s["x"], s["t_x"], s["T"])
    assert len(w) < len(s)
    by_weight = fit_bgnbd(x, t_x, T, weights=w)
    expanded = fit_bgnbd(s["x"], s["t_x"], s["T"])
    assert by_weight.log_likelihood == pytest.approx(expanded.log_likelihood, abs=1e-6)
    assert by_weight.n_customers == expanded.n_customers == 2357
    assert by_weight.params == pytest.approx(expanded.params, rel=1e-6)
    assert bgnbd_log_likelihood(PARAMS, x, t_x, T, weights=w) == pytest.approx(
        bgnbd_log_likelihood(PARAMS, s["x"], s["t_x"], s["T"]), rel=1e-12
    )


def test_time_unit_only_rescales_alpha(own_summary):
    """Days instead of weeks: same r, a, b; alpha x 7; LL shifts by -sum(x) log 7 (density)."""
    s = own_summary
    weeks = fit_bgnbd(s["x"], s["t_x"], s["T"])
    days = fit_bgnbd(s["x"], s["t_x"] * 7, s["T"] * 7)
    assert days.params["alpha"] == pytest.approx(weeks.params["alpha"] * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params[name] == pytest.approx(weeks.params[name], rel=1e-4)
    assert days.log_likelihood == pytest.approx(
        weeks.log_likelihood - s["x"].sum() * np.log(7), abs=1e-3
    )


# --- simulated customers: recovery of known parameters, calibration of predictions ---

TRUE = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}  # alpha in days


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20240601)
    T = rng.integers(30, 731, size=20_000).astype(float)
    x, t_x, holdout = simulate_bgnbd(TRUE, T, holdout=180.0, seed=rng)
    return x, t_x, T, holdout


def test_recovers_known_parameters_from_simulated_customers(simulated):
    x, t_x, T, _ = simulated
    fit = fit_bgnbd(x, t_x, T)
    assert fit.ok and fit.n_customers == 20_000
    for name, true in TRUE.items():
        assert fit.params[name] == pytest.approx(true, rel=0.15), name


def test_conditional_expectation_predicts_simulated_holdout(simulated):
    """Averaged over customers, E[X(180) | history] must equal the simulated 180-day holdout
    counts within sampling error: an end-to-end check of eq. 10 against the generative model."""
    x, t_x, T, holdout = simulated
    predicted = bgnbd_expected_purchases(TRUE, 180.0, x, t_x, T)
    for group in (x == 0, (x > 0) & (x < 3), x >= 3):
        standard_error = holdout[group].std() / np.sqrt(group.sum())
        assert abs(predicted[group].mean() - holdout[group].mean()) < 4 * standard_error


# --- guardrails ---


def test_homogeneous_never_churning_buyers_fit_at_the_box_edge_and_still_predict():
    """No rate heterogeneity and no dropout is the limit r -> inf, a -> 0 of the model; the fit
    runs to the edge of the search box (reported) and predictions stay finite and right."""
    rng = np.random.default_rng(1)
    T = rng.integers(30, 731, 5000).astype(float)
    x = rng.poisson(0.05 * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    fit = fit_bgnbd(x, t_x, T)
    assert fit.ok and fit.at_bounds and "search bound" in fit.message
    expected = bgnbd_expected_purchases(fit, 100.0, x, t_x, T)
    assert np.all(np.isfinite(expected))
    assert expected.mean() == pytest.approx(0.05 * 100, rel=0.03)


def test_too_few_customers_is_reported_not_fitted():
    fit = fit_bgnbd([1, 0, 2], [3.0, 0.0, 5.0], [10.0, 10.0, 10.0], min_customers=10)
    assert fit.status == "too_few_customers" and not fit.ok
    assert fit.params is None and fit.n_customers == 3 and "3" in fit.message


def test_too_few_repeat_customers_is_reported_not_fitted():
    x = np.zeros(500)
    fit = fit_bgnbd(
        x, x, np.full(500, 40.0), min_repeat_customers=0
    )  # one repeat buyer is the floor
    assert fit.status == "too_few_repeat_customers" and fit.params is None
    x[:5] = 1
    fit = fit_bgnbd(x, np.where(x > 0, 3.0, 0.0), np.full(500, 40.0), min_repeat_customers=6)
    assert fit.status == "too_few_repeat_customers"


def test_non_convergence_is_reported_without_parameters(file_summary):
    s = file_summary
    fit = fit_bgnbd(s["x"], s["t_x"], s["T"], max_iterations=2)
    assert fit.status == "not_converged" and not fit.converged and fit.params is None
    with pytest.raises(ValueError, match="not_converged"):
        bgnbd_p_alive(fit, [1], [1.0], [2.0])


@pytest.mark.parametrize(
    "x, t_x, T",
    [
        ([1, 0, 3, 0], [2.0, 0.0, 9.0, 0.0], [10.0, 4.0, 10.0, 7.0]),
        ([1, 1, 1, 1], [2.0, 5.0, 9.0, 1.0], [10.0, 10.0, 10.0, 10.0]),
        ([0, 0, 0, 2], [0.0, 0.0, 0.0, 9.0], [10.0, 10.0, 10.0, 10.0]),
    ],
)
def test_degenerate_tiny_samples_give_a_reason_or_finite_predictions(x, t_x, T):
    """With the guardrails lowered to nothing, a 4-customer likelihood may have no interior
    maximum: the fit must then say so (no params) rather than hand out runaway estimates."""
    fit = fit_bgnbd(x, t_x, T, min_customers=1, min_repeat_customers=1)
    if fit.ok:
        assert all(np.isfinite(v) and v > 0 for v in fit.params.values())
        assert np.isfinite(fit.log_likelihood)
        assert np.all(np.isfinite(bgnbd_expected_purchases(fit, 10.0, x, t_x, T)))
    else:
        assert fit.status in {"not_converged", "non_finite"}
        assert fit.params is None and fit.log_likelihood is None and fit.message


@pytest.mark.parametrize(
    "x, t_x, T, match",
    [
        ([1.5], [1.0], [2.0], "integer"),
        ([-1], [0.0], [2.0], "integer"),
        ([1], [3.0], [2.0], "t_x .* <= T"),
        ([0], [1.0], [2.0], "x == 0"),
        ([1], [np.nan], [2.0], "finite"),
    ],
)
def test_invalid_histories_raise(x, t_x, T, match):
    with pytest.raises(ValueError, match=match):
        fit_bgnbd(x, t_x, T)
