"""The GX checks as Dagster asset checks, in real `dg.materialize` runs on a real DuckDB file.

A failing blocking check must stop what is downstream of its asset; a failing warning must not.
"""

import datetime as dt
import subprocess
import sys

import dagster as dg
import pytest

from retention_pipeline.assets.raw import raw_key
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.quality import build_quality_checks
from retention_pipeline.quality.checks import BLOCKING_CHECK, WARNING_CHECK, mart_key
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.quality_tables import create_raw_tables, insert_rows

DAY = "2025-06-10"
T = dt.datetime(2025, 6, 10, 9, 30)
EXPORT_KEY = dg.AssetKey(["activation", "exports"])


def _pipeline(settings, partitions, order_rows: list[dict]):
    """raw/orders (writes the given rows for the day) -> activation/exports (writes a marker)."""
    marker = settings.warehouse.parent / "exported"

    @dg.asset(key=raw_key("orders"), partitions_def=partitions)
    def orders(context: dg.AssetExecutionContext):
        with connect(settings.warehouse) as con:
            create_raw_tables(con)
            insert_rows(con, "customers", [{"customer_id": "c1", "updated_at": T}],
                        dt.date.fromisoformat(context.partition_key))
            insert_rows(con, "orders", order_rows, dt.date.fromisoformat(context.partition_key))

    @dg.asset(key=EXPORT_KEY, partitions_def=partitions, deps=[raw_key("orders")])
    def exports():
        marker.write_text("sent")

    return [orders, exports], marker


def _order(order_id, customer_id="c1", total=10):
    return {"order_id": order_id, "customer_id": customer_id, "ordered_at": T,
            "total_amount": total, "status": "completed", "updated_at": T}


def _run(assets, checks):
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize([*assets, *checks], partition_key=DAY, instance=instance,
                              raise_on_error=False)


def _evaluations(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def settings(tmp_path):
    return load_settings(warehouse=tmp_path / "warehouse.duckdb")


def test_failed_blocking_raw_check_stops_the_exports(settings):
    partitions = daily_partitions(settings)
    assets, marker = _pipeline(settings, partitions, [_order("o1"), _order(None), _order("o2", total=-3)])
    checks = build_quality_checks(settings, partitions, asset_keys={raw_key("orders")})

    result = _run(assets, checks)

    assert not result.success
    assert not marker.exists()
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {raw_key("orders")}
    evaluations = _evaluations(result)
    blocking = evaluations[BLOCKING_CHECK]
    assert not blocking.passed and blocking.severity == dg.AssetCheckSeverity.ERROR
    assert blocking.partition == DAY
    meta = blocking.metadata
    assert meta["as_of"].value == DAY and meta["rows_checked"].value == 3
    failures = {f["expectation"]: f for f in meta["failures"].value}
    assert set(failures) == {
        "expect_column_values_to_not_be_null(order_id)",
        "expect_column_values_to_be_between(total_amount, 0..1000000000)",
    }
    assert failures["expect_column_values_to_be_between(total_amount, 0..1000000000)"]["sample"] == [-3.0]
    assert evaluations[WARNING_CHECK].passed


def test_failed_warning_does_not_stop_the_exports(settings):
    partitions = daily_partitions(settings)
    assets, marker = _pipeline(settings, partitions, [_order("o1"), _order("o2", customer_id="c404")])
    checks = build_quality_checks(settings, partitions, asset_keys={raw_key("orders")})

    result = _run(assets, checks)

    assert result.success and marker.read_text() == "sent"
    evaluations = _evaluations(result)
    assert evaluations[BLOCKING_CHECK].passed
    warning = evaluations[WARNING_CHECK]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    (failure,) = warning.metadata["failures"].value
    assert failure["expectation"] == "expect_column_values_to_be_null(unknown_customer_id)"
    assert failure["sample"] == ["c404"] and failure["unexpected_count"] == 1


def test_failed_mart_check_stops_the_exports(settings):
    partitions = daily_partitions(settings)
    marker = settings.warehouse.parent / "exported"

    @dg.asset(key=mart_key("repurchase_by_period"), partitions_def=partitions)
    def by_period():
        with connect(settings.warehouse) as con:
            con.execute("create schema marts; create table marts.repurchase_by_period as "
                        "select 'month' as period_granularity, date '2025-06-01' as period_start, "
                        "2 as purchasers, 1 as repeat_purchasers, 0.5 as repeat_purchase_rate, "
                        "3 as returning_customers, 1.5 as returning_customer_rate")

    @dg.asset(key=EXPORT_KEY, partitions_def=partitions, deps=[by_period])
    def exports():
        marker.write_text("sent")

    checks = build_quality_checks(settings, partitions, asset_keys={mart_key("repurchase_by_period")})
    result = _run([by_period, exports], checks)

    assert not result.success and not marker.exists()
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.asset_key == mart_key("repurchase_by_period") and not evaluation.passed
    assert {f["expectation"] for f in evaluation.metadata["failures"].value} == {
        "expect_column_values_to_be_between(returning_customer_rate, 0..1)",
        "expect_column_pair_values_a_to_be_greater_than_b(purchasers, returning_customers)",
    }


def test_unpartitioned_checks_read_the_runs_partition(settings):
    """Without `partitions` the checks are plain checks; in a partitioned run they still check
    that run's day (the batch of another day is not looked at)."""
    partitions = daily_partitions(settings)
    assets, marker = _pipeline(settings, partitions, [_order("o1")])
    with connect(settings.warehouse) as con:  # a bad batch of another day
        create_raw_tables(con)
        insert_rows(con, "orders", [_order(None)], dt.date(2025, 6, 9))
    checks = build_quality_checks(settings, asset_keys={raw_key("orders")})

    result = _run(assets, checks)

    assert result.success and marker.exists()
    blocking = _evaluations(result)[BLOCKING_CHECK]
    assert blocking.passed and blocking.metadata["as_of"].value == DAY
    assert blocking.metadata["rows_checked"].value == 1


def test_checks_join_the_real_definitions(settings):
    """The code location carries the GX checks, partitioned like their assets."""
    from retention_pipeline.definitions import build_definitions

    defs = build_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    check_keys = defs.resolve_asset_graph().asset_check_keys
    for entity in ("customers", "orders", "events"):
        assert dg.AssetCheckKey(raw_key(entity), BLOCKING_CHECK) in check_keys
        assert dg.AssetCheckKey(raw_key(entity), WARNING_CHECK) in check_keys
    for mart in ("cohort_retention", "dim_customers"):
        assert dg.AssetCheckKey(dg.AssetKey(["marts", mart]), BLOCKING_CHECK) in check_keys


def test_building_the_checks_does_not_import_great_expectations():
    code = (
        "import sys\n"
        "from retention_pipeline.quality import build_quality_checks\n"
        "from retention_pipeline.settings import load_settings\n"
        "from retention_pipeline.partitions import daily_partitions\n"
        "s = load_settings()\n"
        "assert len(build_quality_checks(s, daily_partitions(s))) == 10  # + unknown_order_statuses\n"
        "print('great_expectations' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_real_ingestion_of_the_sample_shop_passes_every_raw_check(tmp_path):
    """No false alarms: the generated shop, loaded by the real raw assets, passes every GX check
    (ingestion quarantines bad rows first; GX is the second line)."""
    from retention_pipeline.assets.raw import build_raw_assets
    from retention_pipeline.generator import generate_shop

    as_of = dt.date(2026, 3, 10)
    generate_shop(tmp_path / "landing", customers=2000, seed=7, end=as_of)
    settings = load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "w.duckdb")
    partitions = daily_partitions(settings)
    raw = build_raw_assets(settings, partitions)
    checks = build_quality_checks(settings, partitions, asset_keys={k for a in raw for k in a.keys})
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([*raw, *checks], partition_key=as_of.isoformat(), instance=instance)
    gx_evaluations = [e for e in result.get_asset_check_evaluations()
                      if e.check_name in (BLOCKING_CHECK, WARNING_CHECK)]
    assert len(gx_evaluations) == 10
    assert [e.description for e in gx_evaluations if not e.passed] == []
    rows = {e.asset_key.path[-1]: e.metadata["rows_checked"].value for e in gx_evaluations}
    assert rows["orders"] > 1000 and rows["events"] > 10000
