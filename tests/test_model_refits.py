"""Refits every model_refit_days days, and the days between (docs/predictions.md#refits).

The prediction assets through a real Dagster materialize on a real DuckDB file (occasions written
by hand, as in test_prediction_assets). The expected scores are the pure BG/NBD functions with
the parameters fitted independently on the pandas summary of the refit day, applied to the
summary of the scored day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retention_pipeline.predictions import bgnbd_p_alive, customer_summary, fit_bgnbd
from retention_pipeline.predictions.tables import CUSTOMER_PREDICTIONS
from retention_pipeline.settings import load_settings
from tests.support.prediction_tables import (
    materialize,
    metadata_of,
    simulated_occasions,
    table,
    write_occasions,
)

REFIT_DAY = dt.date(2026, 3, 31)
BETWEEN = REFIT_DAY + dt.timedelta(days=3)
NEXT_REFIT = REFIT_DAY + dt.timedelta(days=7)  # model_refit_days = 7 (the default)
SELECT = ["marts/model_backtest", "marts/model_fit", "marts/customer_predictions"]


def _fit_dates(warehouse) -> list[dt.date]:
    fit = table(warehouse, "select distinct as_of_date from marts.model_fit order by 1")
    return [d.date() for d in pd.to_datetime(fit["as_of_date"])]


def _summary(occasions: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    seen = occasions[pd.to_datetime(occasions["occasion_date"]) <= pd.Timestamp(as_of)]
    return customer_summary(seen.rename(columns={"net_amount": "occasion_value"}), as_of, 7)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """1,000 simulated customers with occasions up to NEXT_REFIT; fitted for REFIT_DAY."""
    warehouse = tmp_path_factory.mktemp("refits") / "warehouse.duckdb"
    occasions = simulated_occasions(1000, NEXT_REFIT, seed=21)
    assert (pd.to_datetime(occasions["occasion_date"]).dt.date > REFIT_DAY).sum() > 20
    write_occasions(warehouse, occasions)
    settings = load_settings(warehouse=warehouse, purchase_model="bgnbd")
    assert settings.model_refit_days == 7
    materialize(settings, REFIT_DAY, select=SELECT)
    return settings, occasions


def test_a_day_between_refits_is_scored_on_its_own_histories_with_the_last_fit(shop):
    settings, occasions = shop
    result = materialize(settings, BETWEEN, select=SELECT)
    assert _fit_dates(settings.warehouse) == [REFIT_DAY]  # nothing fitted for BETWEEN
    fit_meta = metadata_of(result, "marts/model_fit")
    assert fit_meta["fit_in_force"] == REFIT_DAY.isoformat()
    assert "model_refit_days = 7" in fit_meta["why_no_new_fit"]
    assert "2026-04-06" in fit_meta["why_no_new_fit"]  # the last day it scores
    backtest_days = table(settings.warehouse, "select distinct as_of_date from marts.model_backtest")
    assert list(pd.to_datetime(backtest_days["as_of_date"]).dt.date) == [REFIT_DAY]
    assert metadata_of(result, "marts/prediction_scores")["fit_of"] == REFIT_DAY.isoformat()

    then = _summary(occasions, REFIT_DAY)
    params = fit_bgnbd(*(then[c].to_numpy() for c in ("x", "t_x", "T")))
    now = _summary(occasions, BETWEEN).set_index("customer_id")
    got = table(settings.warehouse, f"select * from {CUSTOMER_PREDICTIONS}").set_index(
        "customer_id").loc[now.index]
    assert (got["as_of_date"] == pd.Timestamp(BETWEEN)).all()
    expected = bgnbd_p_alive(params, *(now[c].to_numpy() for c in ("x", "t_x", "T")))
    np.testing.assert_allclose(got["p_alive"].to_numpy(float), expected, rtol=1e-6)
    assert len(now) > len(then)  # the day's own customers, first buyers since REFIT_DAY too


def test_the_fit_is_made_again_after_model_refit_days_and_on_changed_settings(shop, tmp_path):
    settings, _ = shop
    materialize(settings, NEXT_REFIT, select=["marts/model_fit"])
    assert NEXT_REFIT in _fit_dates(settings.warehouse)

    # a fit with another purchase_model or time unit is never reused
    for changed in ({"purchase_model": "pareto_nbd"}, {"prediction_time_unit_days": 1.0},
                    {"model_refit_days": 1}):
        warehouse = tmp_path / f"{next(iter(changed))}.duckdb"
        warehouse.write_bytes(settings.warehouse.read_bytes())
        other = load_settings(warehouse=warehouse, **{"purchase_model": "bgnbd", **changed})
        materialize(other, BETWEEN, select=["marts/model_fit"])
        assert BETWEEN in _fit_dates(warehouse), changed


def test_a_rerun_of_a_day_between_refits_drops_a_fit_it_had(shop, tmp_path):
    """A day fitted by an earlier run (model_refit_days 1) and run again with refits every 7
    days scores with the refit day's fit and keeps no rows of its own: one fit in force."""
    settings, _ = shop
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(settings.warehouse.read_bytes())
    daily = load_settings(warehouse=warehouse, purchase_model="bgnbd", model_refit_days=1)
    materialize(daily, BETWEEN, select=["marts/model_fit"])
    assert BETWEEN in _fit_dates(warehouse)
    weekly = load_settings(warehouse=warehouse, purchase_model="bgnbd")
    result = materialize(weekly, BETWEEN, select=["marts/model_fit", "marts/prediction_scores"])
    assert BETWEEN not in _fit_dates(warehouse)
    assert metadata_of(result, "marts/prediction_scores")["fit_of"] == REFIT_DAY.isoformat()
