"""The serving assets in Dagster: published only after the blocking checks on the marts passed;
a failed check leaves the previously published day in place. Row counts in metadata, log, check."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from retention_pipeline.assets.serving import (
    DUCKDB_FILE_KEY,
    PARQUET_KEY,
    ROWS_CHECK,
    build_serving_assets,
)
from retention_pipeline.partitions import daily_asset_options, daily_partitions
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.serving_fixtures import write_day

DAY1, DAY2 = dt.date(2026, 1, 2), dt.date(2026, 1, 3)
MART = dg.AssetKey(["marts", "dim_customers"])


@pytest.fixture(scope="module", autouse=True)
def _manifest():
    from retention_pipeline.assets.dbt import prepare_manifest

    prepare_manifest()


def _job(settings, check_passes: bool):
    """A mart written by an asset and a separate blocking check on it (as the GX mart checks
    are), then the real serving assets downstream of the mart."""
    partitions = daily_partitions(settings, earliest=DAY1)

    @dg.asset(key=MART, **daily_asset_options(partitions))
    def mart(context: dg.AssetExecutionContext) -> None:
        write_day(settings.warehouse, dt.date.fromisoformat(context.partition_key))

    @dg.asset_check(asset=MART, blocking=True, name="gx_expectations")
    def gx(context) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=check_passes)

    serving = build_serving_assets(settings, partitions, [MART])
    defs = dg.Definitions(assets=[mart, *serving], asset_checks=[gx],
                          executor=dg.in_process_executor)
    return defs.resolve_implicit_global_asset_job_def()


def _run(settings, day, check_passes=True):
    with dg.DagsterInstance.ephemeral() as instance:
        return _job(settings, check_passes).execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False)


def _served_day(path) -> set:
    with duckdb.connect(str(path), read_only=True) as con:
        return {r[0] for r in con.execute("select distinct as_of_date from marts.dim_customers").fetchall()}


def test_failed_blocking_check_leaves_the_published_day(tmp_path):
    settings = load_settings(warehouse=tmp_path / "w.duckdb", serving=tmp_path / "serving.duckdb",
                             serving_parquet=tmp_path / "parquet")
    first = _run(settings, DAY1)
    assert first.success
    assert _served_day(settings.serving) == {DAY1}

    failed = _run(settings, DAY2, check_passes=False)
    assert not failed.success
    materialized = {e.asset_key for e in failed.get_asset_materialization_events()}
    assert MART in materialized
    assert DUCKDB_FILE_KEY not in materialized and PARQUET_KEY not in materialized
    assert _served_day(settings.serving) == {DAY1}
    with duckdb.connect() as con:
        parquet_days = con.execute(
            f"select distinct as_of_date from '{settings.serving_parquet}/dim_customers.parquet'"
        ).fetchall()
    assert parquet_days == [(DAY1,)]


def test_publish_records_rows_in_metadata_log_and_check(tmp_path):
    settings = load_settings(warehouse=tmp_path / "w.duckdb", serving=tmp_path / "serving.duckdb")
    result = _run(settings, DAY2)
    assert result.success
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key == DUCKDB_FILE_KEY]
    metadata = event.materialization.metadata
    assert metadata["rows"].value == {"cohort_retention": 26, "dim_customers": 52}
    assert metadata["as_of_date"].value == DAY2.isoformat()
    assert "email" in metadata["personal_data_left_out"].value
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == ROWS_CHECK]
    assert check.passed
    with connect(settings.warehouse, read_only=True) as con:
        log = con.execute('select target, as_of_date, "table", "rows" from marts.serving_log '
                          'order by 3').fetchall()
    assert log == [("serving", DAY2, "cohort_retention", 26), ("serving", DAY2, "dim_customers", 52)]
    assert _served_day(settings.serving) == {DAY2}


def test_serving_assets_follow_every_mart_of_the_pipeline(tmp_path):
    from retention_pipeline.assets.serving import POSTGRES_KEY
    from retention_pipeline.definitions import build_definitions
    from retention_pipeline.quality.checks import CHECKED_MARTS

    settings = load_settings(serving_postgres_url="postgresql://u@h:5432/db",
                             serving_parquet=tmp_path / "pq")
    graph = build_definitions(settings).resolve_asset_graph()
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    for key in (DUCKDB_FILE_KEY, POSTGRES_KEY, PARQUET_KEY):
        node = graph.get(key)
        assert node.group_name == "serving"
        assert node.parent_keys == marts
    for name in CHECKED_MARTS:  # the marts carrying blocking GX checks
        assert dg.AssetKey(["marts", name]) in marts
    for name in ("campaign_candidates", "contact_log", "customer_predictions"):
        assert dg.AssetKey(["marts", name]) in marts
    default = build_definitions(load_settings()).resolve_asset_graph()
    assert {k for k in default.get_all_asset_keys() if k.path[0] == "serving"} == {DUCKDB_FILE_KEY}
