"""End to end: generated shop -> every asset through Dagster; the CLI on a minimal landing."""

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
from dagster._core.instance.ref import InstanceRef

from retention_pipeline.definitions import DAILY_JOB, build_definitions
from retention_pipeline.warehouse import connect
from tests.support.pipeline import write_csv

pytestmark = pytest.mark.slow
RETENTION = str(Path(sys.executable).with_name("retention"))


def test_full_run_of_generated_shop_succeeds(sample_shop_run):
    outcome = sample_shop_run.outcome
    assert outcome.failures == []
    assert outcome.success
    assert outcome.checks, "asset checks ran"
    assert outcome.blocking_checks_passed


def test_every_asset_materialized_for_the_as_of_partition(sample_shop_run):
    settings = sample_shop_run.settings
    graph = build_definitions(settings, earliest=sample_shop_run.as_of).resolve_asset_graph()
    home = str(settings.dagster_home.resolve())
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        for key in graph.get_all_asset_keys():
            if not graph.get(key).is_materializable:
                continue
            event = instance.get_latest_materialization_event(key)
            assert event is not None, f"{key.to_user_string()} not materialized"
            assert event.dagster_event.partition == sample_shop_run.as_of.isoformat()


def test_fct_orders_holds_every_order_up_to_the_as_of_day(sample_shop_run):
    """Independent count from the landing file: orders placed up to the end of the as-of day
    in the reporting time zone (Europe/Berlin), one row per order id."""
    orders = pd.read_csv(sample_shop_run.root / "landing" / "orders.csv", dtype=str)
    ordered_at = pd.to_datetime(orders["ordered_at"], utc=True).dt.tz_convert("Europe/Berlin")
    in_scope = orders[ordered_at.dt.date <= sample_shop_run.as_of]
    expected = in_scope["order_id"].nunique()

    with connect(sample_shop_run.settings.warehouse, read_only=True) as con:
        rows, distinct, last_day = con.execute(
            "select count(*), count(distinct order_id), max(order_date) from marts.fct_orders"
        ).fetchone()
    assert rows == distinct == expected
    assert last_day == sample_shop_run.as_of


def _minimal_landing(folder: Path) -> Path:
    write_csv(folder / "customers.csv", "customer_id", ["c1", "c2"])
    write_csv(
        folder / "orders.csv",
        "order_id,customer_id,ordered_at,total_amount",
        [
            # 23:30 UTC on 31 Jan is 1 Feb in Tokyo: same local day as o2, one occasion.
            "o1,c1,2026-01-31T23:30:00Z,10.00",
            "o2,c1,2026-02-01T05:00:00+00:00,20.00",
            "o3,c2,2026-02-10T12:00:00+09:00,30.00",
            "o4,c2,2026-03-05T12:00:00,15.00",  # after the as-of date: ignored
        ],
    )
    return folder


def test_cli_run_with_only_customers_and_orders(tmp_path):
    landing = _minimal_landing(tmp_path / "landing")
    result = subprocess.run(
        [RETENTION, "run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb"),
         "--exports", str(tmp_path / "exports"), "--as-of", "2026-02-28",
         "--reporting-tz", "Asia/Tokyo"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "retention run for 2026-02-28: OK" in result.stdout
    assert "marts.fct_orders" in result.stdout

    with connect(tmp_path / "w.duckdb", read_only=True) as con:
        rows = con.execute(
            "select order_id, order_date, occasion_seq from marts.fct_orders order by order_id"
        ).fetchall()
    assert rows == [
        ("o1", dt.date(2026, 2, 1), 1),
        ("o2", dt.date(2026, 2, 1), 1),
        ("o3", dt.date(2026, 2, 10), 1),
    ]
    # the run used the persistent Dagster home of the settings (default data/dagster_home)
    assert (tmp_path / "data" / "dagster_home" / "dagster.yaml").exists()


def test_cli_reports_missing_required_column_and_fails(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "customers.csv", "customer_id", ["c1"])
    write_csv(landing / "orders.csv", "order_id,customer_id,total_amount", ["o1,c1,10"])
    result = subprocess.run(
        [RETENTION, "run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb"),
         "--exports", str(tmp_path / "exports"), "--as-of", "2026-02-28"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode != 0
    assert "orders.csv" in result.stdout and "ordered_at" in result.stdout
    assert not (tmp_path / "exports" / "2026-02-28").exists()


def test_cli_rejects_bad_settings_with_a_clear_message(tmp_path):
    result = subprocess.run(
        [RETENTION, "run", "--reporting-tz", "Mars/Olympus"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode == 2
    assert "Mars/Olympus" in result.stderr


def test_schedule_tick_launches_a_run_of_the_daily_job(sample_shop_run):
    defs = build_definitions(sample_shop_run.settings, earliest=sample_shop_run.as_of)
    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    assert schedule.job_name == DAILY_JOB
    tick = dt.datetime(2026, 11, 20, 6, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == sample_shop_run.as_of.isoformat()


def test_mart_materializations_carry_charts_and_headlines(sample_shop_run):
    home = str(sample_shop_run.settings.dagster_home.resolve())
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as instance:
        cohort = instance.get_latest_materialization_event(dg.AssetKey(["marts", "cohort_retention"]))
        curves = instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "repurchase_by_cohort"])
        )
    cohort_meta = cohort.asset_materialization.metadata
    assert cohort_meta["retention_heatmap"].value.startswith("![cohort retention heatmap](data:image/png;base64,")
    assert 0 <= cohort_meta["repeat_purchase_rate_latest_complete_month"].value <= 1
    assert 0 <= cohort_meta["repurchase_rate_90d"].value <= 1
    assert cohort_meta["row_count"].value > 0
    assert "data:image/png;base64," in curves.asset_materialization.metadata["repurchase_curves"].value
