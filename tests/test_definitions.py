"""The Dagster code location loads, has the expected graph, and schedules the right day."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from retention_pipeline.definitions import DAILY_JOB, build_definitions
from retention_pipeline.settings import load_settings


@pytest.fixture(scope="module")
def defs():
    return build_definitions(load_settings(reporting_tz="America/New_York"))


def test_definitions_load_and_validate(defs):
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(DAILY_JOB) is not None


def test_code_location_module_loads():
    from retention_pipeline import definitions

    loaded = definitions.defs()
    assert isinstance(loaded, dg.Definitions)


def test_graph_runs_raw_to_staging_to_marts(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for entity in ("customers", "products", "orders", "order_items", "events"):
        assert f"raw/{entity}" in keys
    assert "marts/fct_orders" in keys

    upstream = graph.get(dg.AssetKey(["staging", "stg_shop__orders"])).parent_keys
    assert dg.AssetKey(["raw", "orders"]) in upstream
    fct_parents = graph.get(dg.AssetKey(["marts", "fct_orders"])).parent_keys
    assert dg.AssetKey(["intermediate", "int_orders"]) in fct_parents


def test_history_comes_after_the_predictions_and_before_serving(defs):
    graph = defs.resolve_asset_graph()
    history = dg.AssetKey(["marts", "dim_customers_history"])
    migration = dg.AssetKey(["marts", "segment_migration"])
    assert {dg.AssetKey(["marts", "dim_customers"]),
            dg.AssetKey(["marts", "customer_predictions"])} <= graph.get(history).parent_keys
    assert history in graph.get(migration).parent_keys
    assert migration in graph.get(dg.AssetKey(["serving", "duckdb_file"])).parent_keys


def test_every_asset_shares_the_daily_partitions(defs):
    graph = defs.resolve_asset_graph()
    partitions = {
        type(graph.get(key).partitions_def).__name__
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
    }
    assert partitions == {"DailyPartitionsDefinition"}


def test_raw_assets_carry_blocking_quarantine_check(defs):
    graph = defs.resolve_asset_graph()
    check_keys = graph.asset_check_keys
    blocking = {
        key.asset_key.to_user_string()
        for key in check_keys
        if key.name == "quarantine_share_within_threshold"
    }
    assert blocking == {f"raw/{e}" for e in ("customers", "products", "orders", "order_items", "events")}


def test_schedule_requests_the_run_for_that_morning(defs):
    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    tz = ZoneInfo("America/New_York")
    # 06:00 local on 23 Nov: the run is for 23 Nov (today), in the reporting time zone.
    morning = dt.datetime(2026, 11, 23, 6, 0, tzinfo=tz)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=morning)
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-11-23"]
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.cron_schedule == "0 6 * * *"


def test_partitions_extend_back_to_an_early_as_of():
    settings = load_settings(partitions_start=dt.date(2024, 1, 1))
    defs = build_definitions(settings, earliest=dt.date(1997, 1, 1))
    job = defs.resolve_job_def(DAILY_JOB)
    keys = job.partitions_def.get_partition_keys(
        current_time=dt.datetime(1997, 1, 3, tzinfo=ZoneInfo("UTC"))
    )
    assert keys[0] == "1997-01-01"


def test_the_launchpad_offers_a_full_refresh_of_the_dbt_step(defs):
    """`full_refresh` is run config of the dbt step (default off), the field `retention run
    --full-refresh` sets."""
    from retention_pipeline.runner import dbt_run_config

    job = defs.resolve_job_def(DAILY_JOB)
    fields = job.run_config_schema.config_type.fields["ops"].config_type.fields
    dbt_config = fields["dbt_models"].config_type.fields["config"].config_type.fields
    assert dbt_config["full_refresh"].default_value is False
    for flag in (True, False):
        result = dg.validate_run_config(job, dbt_run_config(flag))
        assert result["ops"]["dbt_models"]["config"]["full_refresh"] is flag


def test_dbt_runs_in_two_phases_around_the_prediction_fits(defs):
    """Phase 1 builds the fits' inputs, the Python fits write their tables, phase 2 joins them
    to the customers and snapshots the day (docs/operations.md#two-dbt-phases)."""
    graph = defs.resolve_asset_graph()

    def key(path: str) -> dg.AssetKey:
        return dg.AssetKey(path.split("/"))

    def parents(path: str) -> set[dg.AssetKey]:
        return graph.get(key(path)).parent_keys

    job = defs.resolve_job_def(DAILY_JOB)
    ops = {node.name for node in job.graph.node_dict.values()}
    assert {"dbt_models", "dbt_after_predictions"} <= ops
    assert {key("intermediate/int_prediction_patterns"), key("intermediate/int_prediction_spend"),
            key("marts/model_backtest")} <= parents("marts/model_fit")
    assert key("intermediate/int_prediction_holdout_days") in parents("marts/model_backtest")
    assert key("marts/model_fit") in parents("marts/prediction_scores")
    assert {key("marts/prediction_scores"), key("marts/model_fit"),
            key("intermediate/int_prediction_histories")} <= parents("marts/customer_predictions")
    # the same op builds phase 2, never the first one
    phase_two = {"marts/customer_predictions", "marts/dim_customers_history",
                 "marts/segment_migration"}
    assets_def = {k.to_user_string(): a for a in defs.assets for k in getattr(a, "keys", [])}
    assert {assets_def[k].op.name for k in phase_two} == {"dbt_after_predictions"}
    assert assets_def["marts/fct_orders"].op.name == "dbt_models"
    assert assets_def["marts/replenishment_cycles"].op.name == "dbt_models"


def test_the_asset_graph_is_the_same_on_every_dbt_target():
    """The Dagster UI shows the same assets and edges whichever engine builds the models."""
    graphs = {}
    for target, extra in (("duckdb", {}), ("spark", {}),
                          ("postgres", {"warehouse_url": "postgresql://postgres@127.0.0.1/x"})):
        graph = build_definitions(load_settings(dbt_target=target, **extra)).resolve_asset_graph()
        graphs[target] = {key: graph.get(key).parent_keys for key in graph.get_all_asset_keys()}
    assert len(graphs["duckdb"]) > 40
    assert graphs["postgres"] == graphs["duckdb"]
    assert graphs["spark"] == graphs["duckdb"]
