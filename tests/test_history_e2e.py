"""dim_customers_history and segment_migration (dbt models of the second phase) through real
Dagster runs: two month ends give a month of segment movement, and re-running a day replaces that
day's snapshot (no duplicates), leaving earlier days as they were. Checked against the snapshots
themselves with pandas."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg
import pandas as pd
import pytest

from retention_pipeline.assets.dbt import (
    AFTER_PREDICTIONS,
    build_dbt_assets,
    dbt_project,
    dbt_resource,
    prepare_manifest,
)
from retention_pipeline.assets.predictions import build_prediction_assets
from retention_pipeline.generator import generate_shop
from retention_pipeline.history import latest_movement
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.settings import load_settings
from tests.support.pipeline import build_warehouse, query
from tests.support.prediction_tables import metadata_of

pytestmark = pytest.mark.slow

OCTOBER_END, NOVEMBER_END = dt.date(2026, 10, 31), dt.date(2026, 11, 30)


def _materialize(settings, as_of) -> dg.ExecuteInProcessResult:
    """The day's predictions and dbt's second phase (customer_predictions, history), as the daily
    job runs them after the first."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    partitions = daily_partitions(settings, earliest=dt.date(2024, 1, 1))
    project = dbt_project()
    if not project.manifest_path.exists():
        prepare_manifest(project)
    after = build_dbt_assets(settings, partitions, project, name="dbt_after_predictions",
                             select=AFTER_PREDICTIONS)
    assets = [*build_prediction_assets(settings, partitions), after]
    return dg.materialize(assets, partition_key=as_of.isoformat(),
                          resources={"dbt": dbt_resource(project)})


def _run(root, as_of):
    """One day: ingestion and dbt build (tests included), then the Dagster assets downstream."""
    warehouse = build_warehouse(root / "landing", root / "warehouse.duckdb", as_of,
                                exclude=AFTER_PREDICTIONS)
    settings = load_settings(landing=root / "landing", warehouse=warehouse, as_of=as_of,
                             dagster_home=root / "dagster_home")
    return warehouse, _materialize(settings, as_of)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    generate_shop(root / "landing", customers=800, seed=5, end=NOVEMBER_END)
    warehouse, _ = _run(root, OCTOBER_END)
    october = query(warehouse, "select * from marts.dim_customers_history order by customer_id")
    _run(root, NOVEMBER_END)
    first_november = query(warehouse, "select * from marts.dim_customers_history "
                                      "where as_of_date = date '2026-11-30' order by customer_id")
    _, result = _run(root, NOVEMBER_END)  # the same day again
    return warehouse, october, first_november, result


def test_each_run_keeps_its_day_and_a_rerun_replaces_it(runs):
    warehouse, october, first_november, _ = runs
    history = query(warehouse, "select * from marts.dim_customers_history")
    assert set(pd.to_datetime(history.as_of_date).dt.date) == {OCTOBER_END, NOVEMBER_END}
    assert not history.duplicated(["customer_id", "as_of_date"]).any()
    november = history[pd.to_datetime(history.as_of_date).dt.date == NOVEMBER_END]
    assert len(november) == len(first_november)
    kept = history[pd.to_datetime(history.as_of_date).dt.date == OCTOBER_END]
    pd.testing.assert_frame_equal(kept.sort_values("customer_id").reset_index(drop=True),
                                  october.reset_index(drop=True))
    # the snapshot is the day's dim_customers (buyers) with the day's P(alive)
    current = query(warehouse, """
        select d.customer_id, d.rfm_segment, d.member_tier, d.recency_days, d.occasions,
               p.p_alive
        from marts.dim_customers as d
        left join marts.customer_predictions as p on p.customer_id = d.customer_id
        where d.occasions > 0 order by d.customer_id
    """)
    snapshot = november.sort_values("customer_id").reset_index(drop=True)
    for column in ("customer_id", "rfm_segment", "member_tier", "recency_days", "occasions"):
        assert snapshot[column].astype(object).tolist() == current[column].astype(object).tolist()
    assert snapshot["p_alive"].notna().mean() > 0.9
    assert (snapshot["p_alive"] - current["p_alive"]).abs().max() < 1e-12
    assert len(kept) < len(snapshot)  # November brought new buyers


def test_segment_migration_counts_moves_between_the_month_end_snapshots(runs):
    warehouse, october, _, _ = runs
    november = query(warehouse, "select customer_id, rfm_segment from marts.dim_customers_history "
                                "where as_of_date = date '2026-11-30'")
    moves = november.merge(october[["customer_id", "rfm_segment"]], on="customer_id",
                           how="left", suffixes=("", "_before"))
    moves["from_segment"] = moves["rfm_segment_before"].fillna("new")
    expected = (moves.groupby(["from_segment", "rfm_segment"]).size()
                .rename("customers").reset_index().rename(columns={"rfm_segment": "to_segment"}))
    actual = query(warehouse, "select * from marts.segment_migration")
    assert set(pd.to_datetime(actual.month).dt.date) == {dt.date(2026, 11, 1)}
    merged = actual.merge(expected, on=["from_segment", "to_segment"], how="outer",
                          suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["customers"] == merged["customers_ref"]).all()
    assert (expected.from_segment == "new").any()
    assert (actual.from_segment != actual.to_segment).any()  # people move in a month
    shares = actual.groupby("from_segment")["share_of_from_segment"].sum()
    assert ((shares - 1).abs() < 1e-9).all()


def test_the_segment_movement_table_in_the_asset_metadata(runs):
    warehouse, _, _, result = runs
    moves = latest_movement(load_settings(warehouse=warehouse))
    metadata = metadata_of(result, "marts/segment_migration")
    text = metadata["segment_movement"]
    assert metadata["latest_month"] == "2026-11"
    assert text.startswith("Moves of 2026-11")
    largest = moves[0]
    assert f"| {largest[1]} | {largest[2]}" in text
    assert len(text.splitlines()) == 4 + min(len(moves), 30)
    assert metadata_of(result, "marts/dim_customers_history")["days_kept"] == 2
