"""On generated shops: a backtest of both purchase models on the 5,000-customer sample, and every
RFM segment populated on a 20,000-customer shop."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.pipeline import dbt, ingest, query

pytestmark = pytest.mark.slow

SEGMENTS = {
    "Champions", "Loyal Customers", "Potential Loyalist", "Recent Customers", "Promising",
    "Customers Needing Attention", "About To Sleep", "At Risk", "Can't Lose Them",
    "Hibernating", "Lost",
}


def test_sample_shop_backtest_sets_predicted_beside_actual_per_calibration_frequency(
    sample_shop_run,
):
    warehouse = sample_shop_run.settings.warehouse
    rows = query(warehouse, "select * from marts.model_backtest "
                 "where breakdown = 'calibration_frequency' order by model, bucket_order")
    assert set(rows["model"]) == {"bgnbd", "pareto_nbd"}
    for _, per_model in rows.groupby("model"):
        assert list(per_model["bucket"])[:3] == ["0", "1", "2"]
        assert per_model["actual_repeat_purchases"].sum() > 0
        assert (per_model["predicted_repeat_purchases"] > 0).all()
    fit = query(warehouse, "select * from marts.model_fit where selected")
    assert fit["model"].nunique() == 1
    assert fit["selection_reason"].iloc[0].startswith("auto: smallest holdout error")
    predictions = query(warehouse, "select model, count(*) as n, "
                        "count(p_no_purchase_90d) as with_p from marts.customer_predictions "
                        "group by model")
    assert list(predictions["model"]) == [fit["model"].iloc[0]]
    assert predictions["n"].item() == predictions["with_p"].item() > 0


def test_generated_20k_shop_populates_every_segment(tmp_path_factory):
    from retention_pipeline.generator import generate_shop

    root = tmp_path_factory.mktemp("shop20k")
    as_of = dt.date(2026, 11, 20)
    generate_shop(root / "landing", customers=20_000, seed=7, end=as_of)
    warehouse = root / "warehouse.duckdb"
    ingest(root / "landing", warehouse, as_of)
    # dim_customers and what it is built from (with their own tests), not the other marts
    dbt(["build", "--select", "+dim_customers", "--indirect-selection", "cautious"], warehouse,
        {"as_of": as_of.isoformat(), "reporting_tz": "UTC", "min_order_value": 0})
    counts = query(warehouse, "select rfm_segment, count(*) as customers from "
                   "marts.dim_customers where occasions > 0 group by rfm_segment")
    assert set(counts["rfm_segment"]) == SEGMENTS
    assert (counts["customers"] > 0).all()
