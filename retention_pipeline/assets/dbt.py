"""dbt models as Dagster assets (dagster-dbt): staging -> intermediate -> marts.

dbt tests surface as asset checks. The as-of date (the partition key) and the other settings dbt
needs reach the models as `--vars`. Builds are incremental when they can be (build_state.py);
`full_refresh: true` in the dbt step's run config (launchpad) or `retention run --full-refresh`
rebuilds every model.
"""


import dataclasses
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import Settings
from retention_pipeline.targets import dbt_target_env, load_raw_into_target
from retention_pipeline.warehouse import dbt_duckdb_env


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest(project: DbtProject | None = None) -> DbtProject:
    """Run `dbt parse` so the manifest exists: the CLI, tests and CI call this themselves
    (`prepare_if_dev` only acts under `dagster dev`)."""
    project = project or dbt_project()
    with _exclusive(project.project_dir / "target" / ".parse.lock"):
        dbt_resource(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


@contextmanager
def _exclusive(lock_path: Path):
    """Parallel processes (tests, a CLI run beside the UI) must not write one manifest at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RetentionDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `[schema, model]` (e.g. `marts/fct_orders`), groups are the dbt folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


class DbtBuildConfig(dg.Config):
    """Run config of the dbt step, visible in the launchpad."""

    full_refresh: bool = False


def plan_dbt_build(settings: Settings, as_of, full_refresh: bool, build_id: str):
    """Decide full or incremental for this build and record its start (build_state.py)."""
    from retention_pipeline.build_state import plan_build, record_start, settings_key
    from retention_pipeline.warehouse import connect

    key = settings_key(settings.dbt_vars(as_of), DBT_PROJECT_DIR)
    # dbt-spark's delete+insert needs Delta tables and the local lake writes Parquet: on Spark
    # every build is a full refresh (docs/operations.md#incremental-runs).
    on_spark = settings.dbt_target == "spark"
    with connect(settings.warehouse, settings=settings) as con:
        plan = plan_build(con, build_id, as_of, key, full_refresh or on_spark)
        if on_spark and not full_refresh:
            plan = dataclasses.replace(plan, reason="dbt_target spark builds in full")
        record_start(con, plan)
    return plan


def finish_dbt_build(settings: Settings, build_id: str, status: str) -> None:
    from retention_pipeline.build_state import record_end
    from retention_pipeline.warehouse import connect

    with connect(settings.warehouse, settings=settings) as con:
        record_end(con, build_id, status)


# The second dbt build of a day: the models that read the Python prediction fits (activation).
AFTER_PREDICTIONS = "tag:after_predictions"


def build_dbt_assets(settings: Settings, partitions: dg.PartitionsDefinition, project: DbtProject,
                     *, name: str = "dbt_models", select: str = "fqn:*",
                     exclude: str | None = None):
    """One dbt build step. Phase 1 (`dbt_models`, every model without the tag after_predictions)
    loads the raw rows into the target and plans the build (incremental or full, build_state.py);
    phase 2 (`select=AFTER_PREDICTIONS`) is a plain `dbt build` of its selection: its incremental
    model (contact_log) replaces its own day and is never fully refreshed, the rest are tables, so
    it touches none of phase 1's build state."""
    translator = RetentionDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    )
    decorate = dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        name=name,
        select=select,
        exclude=exclude,
        **daily_asset_options(partitions),
    )

    def run(context: dg.AssetExecutionContext, dbt: DbtCliResource, full_refresh: bool):
        as_of = as_of_from_partition(context.partition_key)
        _dbt_environment(settings)
        planned = select != AFTER_PREDICTIONS
        dbt_vars, extra_args = settings.dbt_vars(as_of), []
        if planned:
            loaded = load_raw_into_target(settings)
            if loaded:
                context.log.info(f"raw rows loaded into dbt target {settings.dbt_target}: {loaded}")
            plan = plan_dbt_build(settings, as_of, full_refresh, context.run_id)
            context.log.info(f"dbt build for {as_of}: {plan.mode} ({plan.reason})")
            dbt_vars, extra_args = {**dbt_vars, **plan.dbt_vars()}, plan.dbt_args()
        invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars), *extra_args],
                             context=context)
        events = invocation.stream()
        if context.run.tags.get(QUIET_DBT_TAG) == "true":
            events = _without_dbt_stdout(events)
        status = "failed"
        try:
            yield from _with_mart_reports(context, events, settings)
            # A subset leaves the other models where they were: it cannot be a starting point.
            status = "partial" if context.is_subset else "succeeded"
        finally:
            # Never leave a dbt process holding the warehouse's write lock after a failure or
            # an interrupt (dagster-dbt forwards SIGINT to dbt; this makes sure it is gone).
            _end_process(invocation.process)
            if planned:
                try:
                    finish_dbt_build(settings, context.run_id, status)
                except Exception as exc:  # noqa: BLE001 - never hide why the build itself failed
                    # Left 'started': the next build will not start from this one, which is safe.
                    context.log.warning(f"could not record the dbt build's end: {exc}")

    if select == AFTER_PREDICTIONS:
        @decorate
        def dbt_after_predictions(context: dg.AssetExecutionContext, dbt: DbtCliResource):
            yield from run(context, dbt, full_refresh=False)

        return dbt_after_predictions

    @decorate
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   config: DbtBuildConfig):
        yield from run(context, dbt, full_refresh=config.full_refresh)

    return dbt_models


def _dbt_environment(settings: Settings) -> None:
    # profiles.yml reads the warehouse path from the environment...
    os.environ["RETENTION_WAREHOUSE"] = str(settings.warehouse.resolve())
    os.environ.update(dbt_duckdb_env(settings))  # ...and its DuckDB memory/threads/spill
    os.environ.update(dbt_target_env(settings))  # ...and which engine builds the models


# Run tag set by `retention run` without --verbose: dbt's own log lines stay out of its output.
QUIET_DBT_TAG = "retention/quiet_dbt"


def _without_dbt_stdout(events):
    """dagster-dbt echoes every dbt log line to stdout while streaming; drop those lines, only
    while the next event is being read (so nothing else's output is touched)."""
    iterator = iter(events)
    with open(os.devnull, "w") as sink:
        while True:
            with redirect_stdout(sink):
                try:
                    event = next(iterator)
                except StopIteration:
                    return
            yield event


def _end_process(process, timeout: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The dbt of this environment, even when its bin/ is not on PATH (cron, the UI's code server).
    dbt_executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(dbt_executable) if dbt_executable.exists() else "dbt",
    )


def _with_mart_reports(context: dg.AssetExecutionContext, events, settings: Settings):
    """Pass dbt's events through, adding charts and headline numbers to the mart outputs.

    The dbt process holds the DuckDB file for writing until it exits, so the mart outputs (and
    their test results) are held back and yielded, enriched, once dbt is done.
    """
    from retention_pipeline.reports import REPORTED_MARTS, mart_metadata, reported_tables
    from retention_pipeline.targets.local import target_view

    held_outputs: list[tuple[str, dg.Output]] = []
    held_checks: list[dg.AssetCheckResult] = []
    reported_keys = {dg.AssetKey(["marts", name]) for name in REPORTED_MARTS}
    try:
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                if key in reported_keys:
                    held_outputs.append((key.path[-1], event))
                    continue
            if isinstance(event, dg.AssetCheckResult) and event.asset_key in reported_keys:
                held_checks.append(event)
                continue
            yield event
    except Exception:
        # dbt failed part-way: what it did build is still recorded, without the charts.
        yield from (output for _, output in held_outputs)
        yield from held_checks
        raise
    if not held_outputs:
        yield from held_checks
        return
    # The charts query the marts with DuckDB: off the duckdb target, a copy of the few they read.
    with target_view(settings, [f"marts.{model}" for model in reported_tables(
            model for model, _ in held_outputs)]) as con:
        for model, output in held_outputs:
            metadata = mart_metadata(con, model) or _row_count_metadata(settings, model)
            yield output.with_metadata({**output.metadata, **metadata})
    yield from held_checks


def _row_count_metadata(settings: Settings, model: str) -> dict:
    """A mart shown by its row count alone, counted in the target (nothing copied)."""
    from retention_pipeline.targets.read import row_count

    rows = row_count(settings, "marts", model)
    return {} if rows is None else {"row_count": dg.MetadataValue.int(rows)}
