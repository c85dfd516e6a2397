"""Which purchase model scores the customers, why, and when nothing is published."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retention_pipeline.predictions.fitting import ModelFit
from retention_pipeline.predictions.model_runs import choose_purchase_model, limiting_case
from retention_pipeline.predictions.paretonbd import (
    fit_pareto_nbd,
    pareto_nbd_expected_purchases,
    pareto_nbd_p_alive,
    pareto_nbd_p_no_purchase,
)
from retention_pipeline.predictions.summary import customer_summary
from retention_pipeline.predictions.tables import CUSTOMER_PREDICTIONS
from retention_pipeline.settings import load_settings
from tests import cdnow
from tests.support.prediction_tables import (
    materialize,
    metadata_of,
    simulated_occasions,
    table,
    write_occasions,
)

PUBLISHED = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
HOLDOUT_END = "1998-06-30"


def _cdnow_occasions() -> pd.DataFrame:
    frame = cdnow.transactions().rename(columns={"occasion_value": "net_amount"})
    return frame[["customer_id", "occasion_date", "net_amount"]]


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("cdnow_choice") / "warehouse.duckdb"
    write_occasions(warehouse, _cdnow_occasions())
    return warehouse


def test_cdnow_with_pareto_nbd_publishes_its_estimates_and_scores_with_it(cdnow_warehouse):
    settings = load_settings(warehouse=cdnow_warehouse, purchase_model="pareto_nbd")
    materialize(settings, cdnow.CALIBRATION_END, select=["marts/model_fit",
                                                         "marts/customer_predictions"])
    fit = table(cdnow_warehouse, "select * from marts.model_fit where model = 'pareto_nbd'")
    values = dict(zip(fit["parameter"], fit["value"]))
    for name, published in PUBLISHED.items():
        assert values[name] == pytest.approx(published, rel=0.01), name
    assert fit["log_likelihood"].iloc[0] == pytest.approx(-9595.0, rel=0.01)
    assert fit["selected"].all()
    assert (fit["selection_reason"] == "purchase_model = pareto_nbd (setting)").all()
    bgnbd = table(cdnow_warehouse, "select * from marts.model_fit where model = 'bgnbd'")
    assert not bgnbd["selected"].any()

    got = table(cdnow_warehouse, f"select * from {CUSTOMER_PREDICTIONS}").set_index("customer_id")
    assert len(got) == 2357 and set(got["model"]) == {"pareto_nbd"}
    summary = customer_summary(
        _cdnow_occasions().rename(columns={"net_amount": "occasion_value"}),
        cdnow.CALIBRATION_END, 7,
    )
    summary = summary.set_index(summary["customer_id"].astype(str))
    got = got.loc[summary.index]
    x, t_x, T = (summary[c].to_numpy() for c in ("x", "t_x", "T"))
    params = fit_pareto_nbd(x, t_x, T).params
    np.testing.assert_allclose(got["p_alive"], pareto_nbd_p_alive(params, x, t_x, T), rtol=1e-6)
    np.testing.assert_allclose(
        got["expected_purchases_90d"],
        pareto_nbd_expected_purchases(params, 90 / 7, x, t_x, T), rtol=1e-6,
    )
    np.testing.assert_allclose(
        got["p_no_purchase_90d"], pareto_nbd_p_no_purchase(params, 90 / 7, x, t_x, T), rtol=1e-6
    )
    one_time = got[summary["x"] == 0]
    assert (one_time["p_alive"] < 1).any() and one_time["p_alive"].min() < 0.5
    # the band reads the same model: P(purchase in horizon) = 1 - P(no purchase in it)
    assert set(got["churn_risk"]) <= {"low", "medium", "high"}


def test_auto_chooses_by_the_backtest_and_says_why(cdnow_warehouse):
    settings = load_settings(warehouse=cdnow_warehouse)  # purchase_model = auto
    result = materialize(settings, HOLDOUT_END)
    backtest = table(cdnow_warehouse, f"select * from marts.model_backtest "
                     f"where as_of_date = '{HOLDOUT_END}'")
    buckets = backtest[backtest["breakdown"] == "calibration_frequency"]
    errors = buckets.groupby("model")["error"].apply(lambda e: e.abs().sum())
    assert set(errors.index) == {"bgnbd", "pareto_nbd"}
    fit = table(cdnow_warehouse, f"select * from marts.model_fit where as_of_date = '{HOLDOUT_END}'")
    chosen = set(fit.loc[fit["selected"].fillna(False).astype(bool), "model"])
    assert chosen == {errors.idxmin()}
    reason = fit.loc[fit["model"] == "bgnbd", "selection_reason"].iloc[0]
    assert reason.startswith("auto: smallest holdout error in model_backtest")
    assert f"bgnbd {errors['bgnbd']:.1f}" in reason and f"pareto_nbd {errors['pareto_nbd']:.1f}" in reason
    predictions = table(cdnow_warehouse, f"select distinct model from {CUSTOMER_PREDICTIONS}")
    assert list(predictions["model"]) == [errors.idxmin()]
    assert metadata_of(result, "marts/model_fit")["purchase_model"] == errors.idxmin()
    assert metadata_of(result, "marts/prediction_scores")["purchase_model"] == errors.idxmin()


def test_too_short_a_history_publishes_nothing_and_says_why(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    as_of = dt.date(2026, 3, 31)
    write_occasions(warehouse, simulated_occasions(900, as_of, seed=2, max_age_days=120))
    result = materialize(load_settings(warehouse=warehouse), as_of)
    assert result.success
    fit = table(warehouse, "select * from marts.model_fit")
    assert set(fit["status"]) == {"too_short_history"}
    assert fit["message"].str.contains("< prediction_min_history_days 180").all()
    assert table(warehouse, f"select count(*) as n from {CUSTOMER_PREDICTIONS}")["n"].item() == 0
    assert table(warehouse, "select count(*) as n from marts.model_backtest")["n"].item() == 0
    why = metadata_of(result, "marts/prediction_scores")["why_incomplete"]
    assert "too_short_history" in why and "prediction_min_history_days" in why
    assert "too_short_history" in metadata_of(result, "marts/model_backtest")["why_no_backtest"]
    # the same data with the minimum lowered is published
    lowered = load_settings(warehouse=warehouse, prediction_min_history_days=100)
    materialize(lowered, as_of)
    assert table(warehouse, f"select count(*) as n from {CUSTOMER_PREDICTIONS}")["n"].item() > 0


def _fit(model, ll, *, ok=True, at_bounds=(), params=None) -> ModelFit:
    return ModelFit(model=model, status="ok" if ok else "not_converged",
                    params=(params or {"r": 1.0}) if ok else None,
                    log_likelihood=ll if ok else None, n_customers=100, at_bounds=at_bounds)


def test_choice_rules():
    fits = {"bgnbd": _fit("bgnbd", -10.0), "pareto_nbd": _fit("pareto_nbd", -12.0)}
    assert choose_purchase_model("auto", fits, {"bgnbd": 5.0, "pareto_nbd": 3.0})[0] == "pareto_nbd"
    name, why = choose_purchase_model("auto", fits, {})
    assert name == "bgnbd" and "highest log-likelihood" in why
    assert choose_purchase_model("pareto_nbd", fits, {"bgnbd": 1.0})[0] == "pareto_nbd"
    broken = {**fits, "pareto_nbd": _fit("pareto_nbd", 0, ok=False)}
    assert choose_purchase_model("auto", broken, {"bgnbd": 9.0})[0] == "bgnbd"
    name, why = choose_purchase_model("pareto_nbd", broken, {})
    assert name is None and "not fitted" in why


def test_limiting_cases_are_named():
    flat = _fit("bgnbd", -1, params={"r": 0.5, "alpha": 3, "a": 2000.0, "b": 8000.0})
    assert "no dropout heterogeneity" in limiting_case(flat)
    bound = _fit("pareto_nbd", -1, at_bounds=("s",),
                 params={"r": 0.5, "alpha": 3, "s": 50.0, "beta": 2000.0})
    assert "one dropout rate s / beta" in limiting_case(bound)
    never = _fit("bgnbd", -1, at_bounds=("a",), params={"r": 0.5, "alpha": 3, "a": 1e-9, "b": 2})
    assert limiting_case(never).startswith("a -> 0: no dropout")
    usual = _fit("bgnbd", -1, params={"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    assert limiting_case(usual) is None


def test_a_history_table_of_an_earlier_version_gets_the_new_columns(tmp_path):
    import duckdb

    from retention_pipeline.predictions.tables import MODEL_FIT, replace_as_of_rows

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.model_fit (as_of_date date, model varchar, "
                    "parameter varchar, value double)")
        con.execute("insert into marts.model_fit values ('2026-01-01', 'bgnbd', 'r', 0.5)")
        replace_as_of_rows(con, MODEL_FIT, dt.date(2026, 2, 1), [
            {"as_of_date": dt.date(2026, 2, 1), "model": "pareto_nbd", "parameter": "s",
             "value": 0.6, "selected": True, "selection_reason": "test"},
        ])
        rows = con.execute("select as_of_date, model, selected from marts.model_fit "
                           "order by as_of_date").fetchall()
    assert rows == [(dt.date(2026, 1, 1), "bgnbd", None), (dt.date(2026, 2, 1), "pareto_nbd", True)]
