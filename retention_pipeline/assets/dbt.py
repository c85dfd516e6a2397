"""dbt models as Dagster assets (dagster-dbt): staging -> intermediate -> marts.

dbt tests surface as asset checks. The as-of date (the partition key) and the other settings dbt
needs reach the models through the env var RETENTION_DBT_RUN_VARS (dbt_parse.py). Builds are
incremental when they can be (build_state.py); `full_refresh: true` in the dbt step's run config
(launchpad) or `retention run --full-refresh` rebuilds every model.
"""


import dataclasses
import fcntl
import io
import os
import shutil
import subprocess
import sys
import threading
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

from retention_pipeline.dbt_cli import dbt_resource
from retention_pipeline.dbt_parse import dbt_env, run_vars_env
from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import Settings
from retention_pipeline.targets import load_raw_into_target


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest(project: DbtProject | None = None, settings: Settings | None = None,
                     force: bool = False) -> DbtProject:
    """Run `dbt parse` so the manifest exists: the CLI, tests and CI call this themselves
    (`prepare_if_dev` only acts under `dagster dev`). Skipped when the manifest was made from
    the same project content and profile env (dbt_parse.py); with `settings`, the parse runs in
    the env of their dbt builds, so that those builds reuse it."""
    from retention_pipeline.dbt_parse import dbt_env, manifest_key, parse_is_current, record_parse

    project = project or dbt_project()
    if settings is not None:
        os.environ.update(dbt_env(settings))
    target = Path(project.project_dir) / project.target_path
    with _exclusive(project.project_dir / "target" / ".parse.lock"):
        key = manifest_key(Path(project.project_dir), dict(os.environ))
        if force or not parse_is_current(target, key):
            _parse_aside(project, target)
            record_parse(target, key)
    return project


def _parse_aside(project: DbtProject, target: Path) -> None:
    """`dbt parse` into a folder of its own, then each file moved over the old one: readers that
    do not take the parse lock (dagster dev, test workers, a CLI run) never find manifest.json
    missing or half written (dbt writes it in place)."""
    aside = Path(project.target_path) / f".parse-{os.getpid()}"
    folder = Path(project.project_dir) / aside
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        saved = target / "partial_parse.msgpack"
        if saved.exists():  # dbt reuses what it can of the last parse
            shutil.copy2(saved, folder / saved.name)
        dbt_resource(project).cli(["parse", "--quiet"], target_path=aside).wait()
        # the saved parse first: a reader seeing the new manifest has the matching parse
        produced = sorted((p for p in folder.iterdir() if p.is_file()),
                          key=lambda p: p.name == "manifest.json")
        for file in produced:
            os.replace(file, target / file.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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


# The models that read what the Python prediction fits write: dbt's second phase
# (dbt_project.yml tags their folders).
AFTER_PREDICTIONS = "tag:after_predictions"


def build_dbt_assets(settings: Settings, partitions: dg.PartitionsDefinition, project: DbtProject,
                     *, name: str = "dbt_models", select: str = "fqn:*",
                     exclude: str | None = None):
    """One `@dbt_assets` over the selected models. The daily run has two: `dbt_models` (every
    model but the tag after_predictions: incremental plan, raw copy into the target) and
    `dbt_after_predictions` (that tag: a plain build after the Python fits, docs/operations.md)."""
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
    if select == AFTER_PREDICTIONS:
        def after_predictions(context: dg.AssetExecutionContext, dbt: DbtCliResource):
            _set_dbt_env(settings)
            yield from _after_predictions(context, dbt, settings)

        return decorate(after_predictions)

    def first_phase(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                    config: DbtBuildConfig):
        _set_dbt_env(settings)
        yield from _first_phase(context, dbt, config, settings)

    return decorate(first_phase)


def _set_dbt_env(settings: Settings) -> None:
    # profiles.yml reads the warehouse path, DuckDB's memory/threads/spill and the engine from
    # the environment.
    os.environ.update(dbt_env(settings))


def _after_predictions(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                       settings: Settings):
    """Phase 2: a plain build of the selection. No build-state plan: its incremental models
    replace their own day (`full_refresh: false`) and the rest are tables, so a failure here
    never touches phase 1's incremental state."""
    from retention_pipeline.serving.days import record_history_build
    from retention_pipeline.warehouse import connect

    as_of = as_of_from_partition(context.partition_key)
    # Before dbt writes the day's history rows: the serving copy compares the days built since
    # its last publish (serving/days.py), so a failed build's day is compared too.
    with connect(settings.warehouse, settings=settings) as con:
        record_history_build(con, as_of)
    # Through the environment, as in phase 1: dbt reuses the saved parse (dbt_parse.py).
    os.environ.update(run_vars_env(settings.dbt_vars(as_of)))
    invocation = dbt.cli(["build"], context=context)
    events = invocation.stream()
    if context.run.tags.get(QUIET_DBT_TAG) == "true":
        events = _without_dbt_stdout(events)
    try:
        yield from _with_history_metadata(context, events, settings)
    finally:
        _end_process(invocation.process)


HISTORY_MODELS = ("dim_customers_history", "segment_migration")


def _with_history_metadata(context: dg.AssetExecutionContext, events, settings: Settings):
    """The history models' outputs (and their checks) held until dbt is done (it holds the
    DuckDB file), then yielded with the days kept and the latest month's segment movement."""
    from retention_pipeline.history import days_kept, latest_movement
    from retention_pipeline.reports.metadata import segment_movement_markdown

    keys = {dg.AssetKey(["marts", name]) for name in HISTORY_MODELS}
    held: list = []
    try:
        for event in events:
            key = (context.asset_key_for_output(event.output_name)
                   if isinstance(event, dg.Output) else getattr(event, "asset_key", None))
            if key in keys:
                held.append((key, event))
                continue
            yield event
    except Exception:
        yield from (event for _, event in held)
        raise
    extra = {}
    if any(isinstance(e, dg.Output) for _, e in held):
        moves = latest_movement(settings)
        extra["segment_migration"] = {
            "segment_movement": dg.MetadataValue.md(segment_movement_markdown(moves)),
            **({"latest_month": dg.MetadataValue.text(f"{moves[0][0]:%Y-%m}")} if moves else {}),
        }
        extra["dim_customers_history"] = {"days_kept": dg.MetadataValue.int(days_kept(settings))}
    for key, event in held:
        if isinstance(event, dg.Output):
            event = event.with_metadata({**event.metadata, **extra[key.path[-1]]})
        yield event


def _first_phase(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                 config: DbtBuildConfig, settings: Settings):
    as_of = as_of_from_partition(context.partition_key)
    loaded = load_raw_into_target(settings)
    if loaded:
        context.log.info(f"raw rows loaded into dbt target {settings.dbt_target}: {loaded}")
    plan = plan_dbt_build(settings, as_of, config.full_refresh, context.run_id)
    context.log.info(f"dbt build for {as_of}: {plan.mode} ({plan.reason})")
    # The day's values through the environment, not --vars: dbt then reuses the saved parse
    # instead of parsing the project again (dbt_parse.py).
    os.environ.update(run_vars_env({**settings.dbt_vars(as_of), **plan.dbt_vars()}))
    invocation = dbt.cli(["build", *plan.dbt_args()], context=context)
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
        try:
            finish_dbt_build(settings, context.run_id, status)
        except Exception as exc:  # noqa: BLE001 - never hide why the build itself failed
            # Left 'started': the next build will not start from this one, which is safe.
            context.log.warning(f"could not record the dbt build's end: {exc}")


# Run tag set by `retention run` without --verbose: dbt's own log lines stay out of its output.
QUIET_DBT_TAG = "retention/quiet_dbt"


def _without_dbt_stdout(events):
    """dagster-dbt echoes every dbt log line to stdout while streaming; drop those lines, only
    while the next event is being read, and only this thread's: sys.stdout is the whole
    process's, and the progress lines (another thread) must still print meanwhile."""
    iterator = iter(events)
    sink = _OtherThreadsOnly(sys.stdout, threading.get_ident())
    while True:
        with redirect_stdout(sink):
            try:
                event = next(iterator)
            except StopIteration:
                return
        yield event


class _OtherThreadsOnly(io.TextIOBase):
    """A stdout that passes on what every thread but one writes."""

    def __init__(self, target, muted_thread: int):
        self._target = target
        self._muted = muted_thread

    def write(self, text: str) -> int:
        if threading.get_ident() == self._muted:
            return len(text)
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()


def _end_process(process, timeout: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


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
