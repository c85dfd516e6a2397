"""The Dagster code location: assets, checks, the daily job and its schedule.

Nothing heavy happens at import: `defs` is built when Dagster loads the code location, from the
settings in force then (env / retention.toml). The CLI builds its own with `build_definitions`.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings

import dagster as dg

from retention_pipeline.settings import Settings, load_settings

DAILY_JOB = "daily_refresh"


def build_definitions(settings: Settings, earliest: dt.date | None = None) -> dg.Definitions:
    from retention_pipeline.assets.activation import build_activation_assets
    from retention_pipeline.assets.dbt import (
        build_dbt_assets,
        dbt_project,
        dbt_resource,
        prepare_manifest,
    )
    from retention_pipeline.assets.history import build_history_assets
    from retention_pipeline.assets.predictions import build_prediction_assets
    from retention_pipeline.assets.raw import build_raw_assets
    from retention_pipeline.assets.serving import build_serving_assets, mart_asset_keys
    from retention_pipeline.operations.executor import writer_locked_executor
    from retention_pipeline.operations.freshness import with_marts_freshness
    from retention_pipeline.partitions import daily_partitions
    from retention_pipeline.quality import build_quality_checks

    # Per-day backfill policies and pools are "beta" in Dagster 1.13; they are what we want.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    partitions = daily_partitions(settings, earliest)
    project = dbt_project()
    # Under `dagster dev` the manifest is remade at every (re)load, so edits to models show up;
    # elsewhere (the CLI, tests) the caller made it, and it is made here only if missing.
    if os.getenv("DAGSTER_IS_DEV_CLI") or not project.manifest_path.exists():
        prepare_manifest(project)

    assets = [
        *build_raw_assets(settings, partitions),
        build_dbt_assets(settings, partitions, project, name="dbt_models", exclude="tag:after_predictions"),
        build_dbt_assets(settings, partitions, project, name="dbt_after_predictions", select="tag:after_predictions"),
        *build_prediction_assets(settings, partitions),
        *build_history_assets(settings, partitions),
        *build_activation_assets(settings, partitions),
    ]
    assets = with_marts_freshness(assets, settings)
    # Published last: after every mart and the blocking checks on them.
    upstream = mart_asset_keys(key for asset in assets for key in asset.keys)
    assets += build_serving_assets(settings, partitions, upstream)
    asset_keys = {key for asset in assets for key in asset.keys}
    checks = build_quality_checks(settings, partitions, asset_keys=asset_keys)
    job = dg.define_asset_job(
        DAILY_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions,
        description="Everything for one day: ingestion, dbt models and tests, predictions, activation.",
    )
    schedule = _recovering(dg.build_schedule_from_partitioned_job(
        job,
        name="daily_refresh_schedule",
        hour_of_day=settings.schedule_hour,
        minute_of_hour=settings.schedule_minute,
        description="Every morning in the reporting time zone: the run for that day (the as-of date).",
    ))
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[job],
        schedules=[schedule],
        resources={"dbt": dbt_resource(project)},
        # One DuckDB writer at a time: the steps of a run never overlap, and a run holds the
        # warehouse's file lock throughout (docs/operations.md).
        executor=writer_locked_executor(settings.warehouse.resolve()),
    )


def _recovering(schedule: dg.ScheduleDefinition) -> dg.ScheduleDefinition:
    """The schedule, first failing runs whose process died (and freeing their pool slots).

    The sweep runs in the schedule's evaluation, in the code server, before the tick's run is
    queued: a dead run still counted as in progress would otherwise hold the run queue's only
    place (max_concurrent_runs 1) and the new run would never leave the queue.
    """
    from retention_pipeline.operations.recovery import recover_dead_runs

    evaluate = schedule._execution_fn.wrapped_fn  # what build_schedule_from_partitioned_job made

    def evaluate_after_recovery(context: dg.ScheduleEvaluationContext):
        # (An ephemeral instance, as in tests, has no runs of earlier processes to recover.)
        if context.instance_ref is not None:
            for message in recover_dead_runs(context.instance):
                context.log.warning(message)
        return evaluate(context)

    return dg.ScheduleDefinition(
        name=schedule.name,
        cron_schedule=schedule.cron_schedule,
        execution_timezone=schedule.execution_timezone,
        job=schedule.job,
        description=schedule.description,
        execution_fn=evaluate_after_recovery,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
