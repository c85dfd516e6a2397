"""One full materialization of every asset for one as-of date, through Dagster (`retention run`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from retention_pipeline.settings import Settings

DAGSTER_YAML = """\
# Written by retention_pipeline: one DuckDB writer at a time across runs too.
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    default_limit: 1
telemetry:
  enabled: false
# Loading the code location (dbt manifest, GX) can take minutes on a busy small machine.
code_servers:
  local_startup_timeout: 600
"""
# With `dagster_storage_url`: runs, event logs and schedules in PostgreSQL. The URL is read from
# the environment when Dagster starts, so no password is ever written into the Dagster home.
POSTGRES_STORAGE_YAML = """\
storage:
  postgres:
    postgres_url:
      env: RETENTION_DAGSTER_STORAGE_URL
"""


def dagster_yaml(settings: Settings) -> str:
    """The dagster.yaml of the Dagster home for these settings."""
    return DAGSTER_YAML + (POSTGRES_STORAGE_YAML if settings.dagster_storage_url else "")


@dataclass
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    blocking: bool
    description: str | None = None


@dataclass
class RunOutcome:
    success: bool
    as_of: str
    run_id: str
    failures: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def blocking_checks_passed(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)


def prepare_environment(settings: Settings) -> Path:
    """Folders and the Dagster home (with its one-writer config); returns the home. Idempotent."""
    from retention_pipeline.files import private_mkdir

    # Both hold personal data: folders created here are private (files.py).
    private_mkdir(settings.warehouse.parent, settings)
    private_mkdir(settings.exports, settings)
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(settings)
    # Rewritten when the storage changes, but only if it is ours (a hand-made one is left alone).
    if not config.exists() or (
        config.read_text() != wanted and config.read_text().startswith(DAGSTER_YAML.split("\n")[0])
    ):
        config.write_text(wanted)
    if settings.dagster_storage_url:
        # A URL from retention.toml reaches dagster.yaml (and the run processes) this way.
        os.environ["RETENTION_DAGSTER_STORAGE_URL"] = dagster_postgres_url(settings.dagster_storage_url)
    if not settings.dagster_storage_url:
        _create_storage_once(home)
    return home


def _create_storage_once(home: Path) -> None:
    """Create the SQLite storages of a new Dagster home under a file lock: two runs starting at
    once on a fresh home would otherwise both stamp its schema version, and Dagster then refuses
    to open it ("more than one head")."""
    import fcntl

    with (home / ".storage.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))):
            pass


def dagster_postgres_url(url: str) -> str:
    """The URL with the psycopg2 driver named: SQLAlchemy 2.1 maps a bare postgresql:// to
    psycopg 3, whose connections dagster-postgres finds closed ("the connection is closed")."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare):]
    return url


def ensure_sample_landing(settings: Settings, as_of) -> Path:
    """With no landing folder, the sample shop is generated (once per parameters) into data/.

    Only files the sample shop made are ever replaced (see sample_guard): a warehouse, landing
    or exports folder without the sample's mark stops the command before anything is touched.
    """
    from retention_pipeline import sample_guard as guard
    from retention_pipeline.generator import generate_shop

    landing = settings.effective_landing
    marker = landing / guard.LANDING_MARK
    params = {"customers": settings.sample_customers, "seed": settings.sample_seed, "end": str(as_of)}
    guard.check_folder("landing", landing, guard.LANDING_MARK)
    guard.check_folder("exports", settings.exports, guard.EXPORTS_MARK)
    stored = guard.check_warehouse(settings.warehouse)
    landing_fresh = marker.exists() and json.loads(marker.read_text()) == params
    if landing_fresh and stored == params:
        return landing
    # A regenerated sample rewrites history under the same ids; the sample's warehouse (checked
    # above to carry the mark) is disposable, so start it afresh rather than quarantine the whole
    # new sample as conflicts.
    for stale in (settings.warehouse, settings.warehouse.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    if not landing_fresh:
        landing.mkdir(parents=True, exist_ok=True)
        for old in landing.iterdir():
            if old.is_file():
                old.unlink()
        generate_shop(landing, customers=settings.sample_customers, seed=settings.sample_seed,
                      end=as_of)
        marker.write_text(json.dumps(params))
    guard.mark_warehouse(settings.warehouse, params, settings)
    guard.mark_exports(settings.exports, params, settings)
    return landing


def run_pipeline(settings: Settings, echo: Callable[[str], None] | None = None,
                 full_refresh: bool = False) -> RunOutcome:
    """Materialize every asset for the as-of date in one Dagster run, on the persistent instance.

    dbt builds incrementally when it can; `full_refresh` rebuilds every model (build_state.py).

    The run holds the warehouse's writer lock throughout (a second run waits, saying for whom),
    first marks runs whose process died as failed and frees their pool slots, and with `echo`
    reports each step's start and end, and every 30 s what is running (docs/operations.md).
    """
    from dagster._core.utils import make_new_run_id

    from retention_pipeline.assets.dbt import QUIET_DBT_TAG, prepare_manifest
    from retention_pipeline.definitions import DAILY_JOB, build_definitions
    from retention_pipeline.operations import processes
    from retention_pipeline.operations.progress import ProgressPrinter, duration
    from retention_pipeline.operations.recovery import recover_dead_runs
    from retention_pipeline.operations.writer_lock import WriterLock, holder_record

    say = echo or (lambda _line: None)
    as_of = settings.effective_as_of
    home = prepare_environment(settings)
    run_id = make_new_run_id()
    me = processes.current()
    ref = InstanceRef.from_dir(str(home))
    lock = WriterLock(settings.warehouse)
    # The persistent instance of dagster_home: runs of the CLI show up in the UI too.
    with dg.DagsterInstance.from_ref(ref) as instance:
        for message in recover_dead_runs(instance):
            say(message)
        lock.acquire(
            holder_record(run_id, me.pid),
            on_wait=lambda who, waited: say(
                f"waiting for {who} to release the warehouse… ({duration(waited)} so far)"),
        )
        try:
            for message in recover_dead_runs(instance, own_run_id=run_id, holds_writer_lock=True):
                say(message)
            if settings.landing is None and settings.source_url is None:
                settings = settings.model_copy(
                    update={"landing": ensure_sample_landing(settings, as_of)})
            # The manifest is made by the command itself, so it always matches the dbt project
            # (parsed again only when the project changed), in the env of this run's dbt build.
            prepare_manifest(settings=settings)
            defs = build_definitions(settings, earliest=as_of)
            job = defs.resolve_job_def(DAILY_JOB)
            tags = {**me.as_tags(), **({} if settings.verbose else {QUIET_DBT_TAG: "true"})}
            progress = ProgressPrinter(ref, run_id, say).start() if echo else None
            try:
                with _dagster_logger_off_the_root_handlers():
                    result = job.execute_in_process(
                        partition_key=as_of.isoformat(),
                        instance=instance,
                        raise_on_error=False,
                        run_id=run_id,
                        tags=tags,
                        run_config={
                            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                            **dbt_run_config(full_refresh),
                        },
                    )
            finally:
                if progress is not None:
                    progress.stop()
                _settle(instance, run_id)
        finally:
            lock.release()
    return _outcome(result, as_of.isoformat())


@contextmanager
def _dagster_logger_off_the_root_handlers():
    """Dagster's Python logger (dagster-dbt's "Running dbt command" and the like) reaches the
    event log through its own handler; importing dbt runs `logging.basicConfig()` (its snowplow
    tracker), so it would also reach a root handler printing every INFO record to stderr. The run's
    console logger prints what a user needs."""
    logger = dg.get_dagster_logger()
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.propagate = propagate


def dbt_run_config(full_refresh: bool) -> dict:
    """The run config of the dbt step (the launchpad shows the same field)."""
    return {"ops": {"dbt_models": {"config": {"full_refresh": full_refresh}}}}


def _settle(instance: dg.DagsterInstance, run_id: str) -> None:
    """After an interrupted run: the run is marked failed and its pool slots are free."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message="Interrupted (SIGTERM or Ctrl-C).")
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _root_cause(error) -> str:
    """The innermost error's message: the user's problem, not Dagster's wrapper around it."""
    if error is None:
        return "unknown error"
    from retention_pipeline.redact import redact_url

    while error.cause is not None:
        error = error.cause
    # Printed and logged: a database URL in the message keeps its password to itself.
    return redact_url(error.message.strip())


def _outcome(result: dg.ExecuteInProcessResult, as_of: str) -> RunOutcome:
    failures = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            failures.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
    checks = [
        CheckOutcome(
            asset=evaluation.asset_key.to_user_string(),
            name=evaluation.check_name,
            passed=evaluation.passed,
            blocking=bool(evaluation.blocking),
            description=evaluation.description,
        )
        for evaluation in result.get_asset_check_evaluations()
    ]
    return RunOutcome(
        success=result.success, as_of=as_of, run_id=result.run_id, failures=failures, checks=checks
    )
