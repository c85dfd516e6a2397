"""CDNOW end to end: landing files -> real ingestion -> real dbt -> prediction assets.

Acceptance of the predictions issue (docs/metrics.md#predictions): with weeks as the unit and as-of
1997-09-30,
marts.model_fit holds the published BG/NBD and Gamma-Gamma estimates; as of 1998-06-30 the
backtest (calibration end 1997-09-30) reports the 1,882 actual holdout repeat purchases beside
the prediction. Checked twice: on the assets over a warehouse built by ingestion + dbt, and
through `retention run` (runner.run_pipeline), which needs the assets wired in definitions.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retention_pipeline.settings import load_settings
from tests import cdnow
from tests.support.cdnow_landing import write_cdnow_landing
from tests.support.pipeline import dbt, ingest
from tests.support.prediction_tables import materialize, table

pytestmark = pytest.mark.slow

CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)
DBT_SELECTION = (
    "+int_purchase_occasions +replenishment_cycles"
)


def _assert_published_fit(fit: pd.DataFrame) -> None:
    fit = fit[fit["as_of_date"] == pd.Timestamp(CALIBRATION_END)]
    values = dict(zip(fit["model"] + "." + fit["parameter"], fit["value"]))
    for name, published in cdnow.BGNBD_PUBLISHED.items():
        assert values[f"bgnbd.{name}"] == pytest.approx(published, rel=0.01), name
    for name, published in cdnow.GAMMA_GAMMA_PUBLISHED.items():
        assert values[f"gamma_gamma.{name}"] == pytest.approx(published, rel=0.01), name
    bgnbd = fit[fit["model"] == "bgnbd"]
    assert bgnbd["log_likelihood"].iloc[0] == pytest.approx(cdnow.BGNBD_PUBLISHED_LL, abs=0.5)
    assert set(fit["time_unit"]) == {"week"}
    assert set(bgnbd["customers"]) == {2357}


def _assert_backtest(backtest: pd.DataFrame) -> None:
    overall = backtest[
        (backtest["as_of_date"] == pd.Timestamp(HOLDOUT_END)) & (backtest["breakdown"] == "overall")
    ].iloc[0]
    assert overall["calibration_end_date"] == pd.Timestamp(CALIBRATION_END)
    assert overall["actual_repeat_purchases"] == 1882
    # lifetimes' conditional expectation with the published fit gives 1,653 for weeks 40-78
    assert overall["predicted_repeat_purchases"] == pytest.approx(1653.4, abs=1.0)


def test_assets_on_a_warehouse_built_by_ingestion_and_dbt(tmp_path):
    landing = write_cdnow_landing(tmp_path / "landing")
    warehouse = tmp_path / "warehouse.duckdb"
    ingest(landing, warehouse, HOLDOUT_END)
    dbt(["build", "--select", DBT_SELECTION, "--indirect-selection", "cautious"], warehouse,
        {"as_of": HOLDOUT_END.isoformat(), "reporting_tz": "UTC", "min_order_value": 0})
    settings = load_settings(warehouse=warehouse)

    # the occasions after 1997-09-30 are in the warehouse; the partition must not see them
    materialize(settings, CALIBRATION_END)
    materialize(settings, HOLDOUT_END)

    _assert_published_fit(table(warehouse, "select * from marts.model_fit"))
    _assert_backtest(table(warehouse, "select * from marts.model_backtest"))
    fit_dates = table(warehouse, "select distinct as_of_date from marts.model_fit")["as_of_date"]
    assert sorted(fit_dates) == [pd.Timestamp(CALIBRATION_END), pd.Timestamp(HOLDOUT_END)]
    predictions = table(warehouse, "select * from marts.customer_predictions")
    assert len(predictions) == 2357
    assert set(predictions["as_of_date"]) == {pd.Timestamp(HOLDOUT_END)}
    # CDNOW has no items: no observed cycles, and the seed's rows only remove categories
    assert table(warehouse, "select count(*) as n from marts.replenishment_cycles")["n"][0] == 0


def test_retention_run_writes_the_published_parameters(tmp_path):
    from retention_pipeline.runner import run_pipeline

    landing = write_cdnow_landing(tmp_path / "landing")
    common = {
        "landing": landing,
        "warehouse": tmp_path / "warehouse.duckdb",
        "exports": tmp_path / "exports",
        "dagster_home": tmp_path / "dagster_home",
    }
    outcomes = [
        run_pipeline(load_settings(as_of=as_of, **common))
        for as_of in (HOLDOUT_END, CALIBRATION_END)
    ]
    failures = [f for outcome in outcomes for f in outcome.failures]
    prediction_failures = [f for f in failures if "model_" in f or "customer_predictions" in f]
    assert not prediction_failures, prediction_failures
    fit = table(common["warehouse"], "select * from marts.model_fit")
    _assert_published_fit(fit)
    _assert_backtest(table(common["warehouse"], "select * from marts.model_backtest"))
