"""The prediction assets through a real Dagster materialize on a real DuckDB file.

The intermediate occasions table is written by hand here (fast); every expectation is computed
independently: the published CDNOW estimates, the pure model functions on the pandas summary
(customer_summary), hand-worked dates, pandas counts of holdout occasions.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from retention_pipeline.predictions import (
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    clv,
    customer_summary,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_value,
)
from retention_pipeline.predictions.churn import bgnbd_p_purchase_within, churn_risk_band
from retention_pipeline.predictions.tables import COLUMNS, CUSTOMER_PREDICTIONS
from retention_pipeline.settings import load_settings
from tests import cdnow
from tests.support.prediction_tables import (
    materialize,
    metadata_of,
    simulated_occasions,
    table,
    write_occasions,
)

AS_OF = dt.date(2026, 3, 31)
FIT_AND_SCORE = ["marts/model_fit", "marts/customer_predictions"]


def _cdnow_occasions() -> pd.DataFrame:
    frame = cdnow.transactions().rename(columns={"occasion_value": "net_amount"})
    return frame[["customer_id", "occasion_date", "net_amount"]]


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("cdnow") / "warehouse.duckdb"
    write_occasions(warehouse, _cdnow_occasions())
    return warehouse


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A warehouse of 3,000 simulated customers, fitted and scored for AS_OF (weeks)."""
    warehouse = tmp_path_factory.mktemp("simulated") / "warehouse.duckdb"
    occasions = simulated_occasions(3000, AS_OF, seed=3)
    write_occasions(warehouse, occasions)
    settings = load_settings(warehouse=warehouse, purchase_model="bgnbd")
    result = materialize(settings, AS_OF, select=FIT_AND_SCORE)
    return settings, occasions, result


def test_cdnow_fit_reproduces_the_published_estimates_in_weeks(cdnow_warehouse, tmp_path):
    settings = load_settings(warehouse=cdnow_warehouse)
    result = materialize(settings, cdnow.CALIBRATION_END, select=["marts/model_fit"])
    fit = table(cdnow_warehouse, "select * from marts.model_fit where as_of_date = '1997-09-30'")
    values = dict(zip(fit["model"] + "." + fit["parameter"], fit["value"]))
    for name, published in cdnow.BGNBD_PUBLISHED.items():
        assert values[f"bgnbd.{name}"] == pytest.approx(published, rel=0.01)
    for name, published in cdnow.GAMMA_GAMMA_PUBLISHED.items():
        assert values[f"gamma_gamma.{name}"] == pytest.approx(published, rel=0.01)
    bgnbd = fit[fit["model"] == "bgnbd"]
    assert bgnbd["log_likelihood"].iloc[0] == pytest.approx(cdnow.BGNBD_PUBLISHED_LL, abs=0.5)
    assert set(bgnbd["customers"]) == {2357}
    assert set(fit.loc[fit["model"] == "gamma_gamma", "customers"]) == {946}
    assert set(fit["time_unit"]) == {"week"} and fit["converged"].all()
    metadata = metadata_of(result, "marts/model_fit")
    assert metadata["bgnbd_log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    assert metadata["bgnbd_r"] == pytest.approx(0.243, rel=0.01)
    assert "| alpha |" in metadata["bgnbd_parameters"]


def test_cdnow_backtest_sets_the_1882_holdout_repeat_purchases_beside_the_prediction(
    cdnow_warehouse,
):
    # as-of 1998-06-30 minus the default 273 holdout days is the paper's calibration end
    settings = load_settings(warehouse=cdnow_warehouse)
    result = materialize(settings, "1998-06-30", select=["marts/model_backtest"])
    every = table(cdnow_warehouse, "select * from marts.model_backtest order by bucket_order")
    assert set(every["model"]) == {"bgnbd", "pareto_nbd"}
    rows = every[every["model"] == "bgnbd"]
    overall = rows[rows["breakdown"] == "overall"].iloc[0]
    assert overall["calibration_end_date"] == pd.Timestamp("1997-09-30")
    assert overall["actual_repeat_purchases"] == 1882
    assert overall["customers"] == 2357
    # the prediction is the calibration fit's conditional expectation, computed independently
    summary = customer_summary(
        _cdnow_occasions().rename(columns={"net_amount": "occasion_value"}), "1997-09-30", 7
    )
    calibration = fit_bgnbd(summary.x, summary.t_x, summary["T"])
    expected = bgnbd_expected_purchases(calibration, 39, summary.x, summary.t_x, summary["T"])
    assert overall["predicted_repeat_purchases"] == pytest.approx(expected.sum(), rel=1e-6)
    buckets = rows[rows["breakdown"] == "calibration_frequency"]
    assert list(buckets["bucket"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert buckets["actual_repeat_purchases"].sum() == 1882
    assert buckets["customers"].sum() == 2357
    assert buckets.loc[buckets["bucket"] == "0", "customers"].item() == (summary.x == 0).sum()
    metadata = metadata_of(result, "marts/model_backtest")
    assert metadata["actual_repeat_purchases"] == 1882
    png = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", metadata[
        "cumulative_repeat_purchases"])
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG\r\n\x1a\n")


def test_predictions_match_the_pure_models_on_the_pandas_summary(simulated):
    settings, occasions, _ = simulated
    summary = customer_summary(
        occasions.rename(columns={"net_amount": "occasion_value"}), AS_OF, 7
    ).set_index("customer_id")
    x, t_x, T, m = (summary[c].to_numpy() for c in ("x", "t_x", "T", "monetary"))
    purchases = fit_bgnbd(x, t_x, T)
    spend = fit_gamma_gamma(x, m)
    assert purchases.ok and spend.ok
    got = table(settings.warehouse, f"select * from {CUSTOMER_PREDICTIONS}").set_index(
        "customer_id"
    ).loc[summary.index]
    value = gamma_gamma_expected_value(spend, x, m)
    monthly = 1.10 ** (1 / 12) - 1
    expected = {
        "p_alive": bgnbd_p_alive(purchases, x, t_x, T),
        "expected_purchases_90d": bgnbd_expected_purchases(purchases, 90 / 7, x, t_x, T),
        "expected_purchases_365d": bgnbd_expected_purchases(purchases, 365 / 7, x, t_x, T),
        "expected_order_value": value,
        "predicted_clv_365d": clv(purchases, x, t_x, T, value, periods=12,
                                  period_length=365 / 12 / 7, discount_rate=monthly),
        "p_purchase_in_horizon": bgnbd_p_purchase_within(purchases, 365 / 7, x, t_x, T),
    }
    for column, values in expected.items():
        np.testing.assert_allclose(got[column].to_numpy(float), values, rtol=1e-6, err_msg=column)
    bands = churn_risk_band(
        expected[settings.churn_risk_basis], high_below=0.3, medium_below=0.6
    )
    assert list(got["churn_risk"]) == list(bands)
    assert {"low", "medium", "high"} <= set(bands)  # the data exercise every band
    assert (got["as_of_date"] == pd.Timestamp(AS_OF)).all()


def test_expected_next_order_date_is_last_occasion_plus_average_gap(simulated):
    settings, occasions, _ = simulated
    got = table(
        settings.warehouse,
        f"select customer_id, expected_next_order_date from {CUSTOMER_PREDICTIONS}",
    ).set_index("customer_id")["expected_next_order_date"]
    days = occasions.groupby("customer_id")["occasion_date"].agg(["min", "max", "nunique"])
    repeat = days[days["nunique"] >= 2]
    gap = (pd.to_datetime(repeat["max"]) - pd.to_datetime(repeat["min"])).dt.days / (
        repeat["nunique"] - 1
    )
    # DuckDB's round() rounds halves away from zero; gaps are positive, so floor(g + 0.5)
    expected = pd.to_datetime(repeat["max"]) + pd.to_timedelta(np.floor(gap + 0.5), unit="D")
    assert (pd.to_datetime(got.loc[repeat.index]) == expected).all()
    assert got.loc[days.index.difference(repeat.index)].isna().all()


def test_hand_worked_next_order_date_and_one_time_buyer(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    base = simulated_occasions(200, AS_OF, seed=9)
    hand = pd.DataFrame(
        {
            "customer_id": ["zz_a", "zz_a", "zz_a", "zz_a", "zz_b"],
            "occasion_date": ["2026-01-01", "2026-01-11", "2026-01-11", "2026-01-31", "2026-02-01"],
            "net_amount": [10.0, 5.0, 5.0, 20.0, 9.0],
        }
    )
    write_occasions(warehouse, pd.concat([base, hand]))
    settings = load_settings(
        warehouse=warehouse, purchase_model="bgnbd", prediction_min_customers=100
    )
    materialize(settings, AS_OF, select=FIT_AND_SCORE)
    got = table(warehouse, f"select * from {CUSTOMER_PREDICTIONS} where customer_id like 'zz_%' "
                "order by customer_id")
    # three occasions (two orders on 11 Jan are one): gaps 10 and 20 days, average 15
    assert got["expected_next_order_date"].iloc[0] == pd.Timestamp("2026-02-15")
    assert pd.isna(got["expected_next_order_date"].iloc[1])
    assert got["p_alive"].iloc[1] == 1.0  # BG/NBD: no repeat purchase, no evidence of dropout


def test_model_fit_keeps_other_dates_and_replaces_a_rerun_date(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    write_occasions(warehouse, simulated_occasions(800, AS_OF, seed=5))
    settings = load_settings(warehouse=warehouse)
    earlier = AS_OF - dt.timedelta(days=30)
    for day in (earlier, AS_OF, earlier):
        materialize(settings, day, select=["marts/model_fit"])
    fit = table(warehouse, "select * from marts.model_fit")
    counts = fit.groupby("as_of_date").size()
    # 4 BG/NBD + 4 Pareto/NBD + 3 Gamma-Gamma parameters
    assert dict(counts) == {pd.Timestamp(earlier): 11, pd.Timestamp(AS_OF): 11}
    assert not fit.duplicated(["as_of_date", "model", "parameter"]).any()
    # the earlier date sees fewer customers: its run used only the occasions up to that day
    customers = fit.groupby("as_of_date")["customers"].max()
    assert customers[pd.Timestamp(earlier)] < customers[pd.Timestamp(AS_OF)]


def test_too_few_customers_succeed_with_empty_tables_and_say_why(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    tiny = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "occasion_date": ["2026-01-01", "2026-02-01", "2026-01-05", "2026-03-01"],
            "net_amount": [10.0, 12.0, 8.0, 5.0],
        }
    )
    write_occasions(warehouse, tiny)
    settings = load_settings(warehouse=warehouse)
    result = materialize(settings, AS_OF)
    assert result.success
    predictions = table(warehouse, f"select * from {CUSTOMER_PREDICTIONS}")
    assert predictions.empty and list(predictions.columns) == list(COLUMNS[CUSTOMER_PREDICTIONS])
    fit = table(warehouse, "select * from marts.model_fit")
    assert set(fit["status"]) == {"too_few_customers"}
    assert set(fit["model"]) == {"bgnbd", "pareto_nbd", "gamma_gamma"}
    assert fit["parameter"].isna().all() and fit["value"].isna().all()
    assert not fit["selected"].any()
    reason = "3 customers with a valid purchase < prediction_min_customers 500"
    assert reason in metadata_of(result, "marts/model_fit")["not_fitted"]
    purchase = fit[fit["model"] != "gamma_gamma"]
    assert purchase["selection_reason"].str.contains(reason).all()
    why = metadata_of(result, "marts/prediction_scores")["why_incomplete"]
    assert "too_few_customers" in why
    assert "too_few_customers" in metadata_of(result, "marts/model_backtest")["why_no_backtest"]
    assert table(warehouse, "select count(*) as n from marts.model_backtest")["n"].item() == 0


def test_without_spend_model_values_are_null_but_purchases_are_predicted(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    occasions = simulated_occasions(600, AS_OF, seed=11)
    # zero-value repeat occasions (valid purchases by default) carry no spend information
    first = occasions.groupby("customer_id")["occasion_date"].transform("min")
    occasions.loc[occasions["occasion_date"] > first, "net_amount"] = 0.0
    write_occasions(warehouse, occasions)
    settings = load_settings(warehouse=warehouse)
    result = materialize(settings, AS_OF, select=FIT_AND_SCORE)
    got = table(warehouse, f"select * from {CUSTOMER_PREDICTIONS}")
    assert len(got) == occasions["customer_id"].nunique()
    assert got["p_alive"].notna().all() and got["expected_purchases_365d"].notna().all()
    assert got["expected_order_value"].isna().all() and got["predicted_clv_365d"].isna().all()
    why = metadata_of(result, "marts/prediction_scores")["why_incomplete"]
    assert "Gamma-Gamma not fitted (too_few_repeat_customers" in why


def test_predictions_of_a_date_never_see_later_occasions(simulated, tmp_path):
    """A partition re-run on a warehouse holding later days scores as of its own day."""
    settings, occasions, _ = simulated
    warehouse = tmp_path / "w.duckdb"
    later = simulated_occasions(1000, AS_OF + dt.timedelta(days=60), seed=4, max_age_days=60)
    later = later[pd.to_datetime(later["occasion_date"]) > pd.Timestamp(AS_OF)]
    assert later["customer_id"].isin(occasions["customer_id"]).any()  # old and new customers
    write_occasions(warehouse, pd.concat([occasions, later]))
    own = load_settings(warehouse=warehouse)
    materialize(own, AS_OF, select=FIT_AND_SCORE)
    query = f"select * from {CUSTOMER_PREDICTIONS} order by customer_id"
    pd.testing.assert_frame_equal(table(warehouse, query), table(settings.warehouse, query))


def test_missing_occasions_table_fails_with_a_clear_error(tmp_path):
    settings = load_settings(warehouse=tmp_path / "empty.duckdb")
    result = materialize(settings, AS_OF, select=["marts/model_fit"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    # (dbt could not build the prediction inputs without the occasions either)
    assert "intermediate.int_prediction_patterns does not exist" in (
        failure.step_failure_data.error.cause.message
        if failure.step_failure_data.error.cause else failure.step_failure_data.error.message
    )


def test_assets_load_beside_the_dbt_models_and_depend_on_their_keys():
    """Every upstream key of the prediction assets is a dbt model or seed of this project."""
    import dagster as dg

    from retention_pipeline.assets.dbt import (
        build_dbt_assets,
        dbt_project,
        dbt_resource,
        prepare_manifest,
    )
    from retention_pipeline.assets.predictions import build_prediction_assets
    from retention_pipeline.partitions import daily_partitions

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    settings = load_settings()
    partitions = daily_partitions(settings)
    project = dbt_project()
    if not project.manifest_path.exists():
        prepare_manifest(project)
    dbt_models = build_dbt_assets(settings, partitions, project)
    predictions = build_prediction_assets(settings, partitions)
    defs = dg.Definitions(
        assets=[dbt_models, *predictions], resources={"dbt": dbt_resource(project)}
    )
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    dbt_keys = set(dbt_models.keys)
    for asset in predictions:
        for key in asset.keys:
            node = graph.get(key)
            assert node.partitions_def == partitions
            upstream = {k for k in node.parent_keys if k not in {a.key for a in predictions}}
            assert upstream and upstream <= dbt_keys, key
