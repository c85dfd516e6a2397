"""`retention` command line: generate a sample shop, run the pipeline, open the UI, serve it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

import click

from retention_pipeline.redact import redact_url
from retention_pipeline.settings import load_settings


def _date(_ctx, _param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc


@click.group()
def main() -> None:
    """Retention and repurchase analytics for online shops (Dagster + dbt + DuckDB)."""


@main.command()
@click.option("--customers", type=click.IntRange(min=1), required=True, help="Customers to generate.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Landing folder to write.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (deterministic).")
@click.option("--end", callback=_date, help="Last day of data, YYYY-MM-DD (default: today, UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("--orders-per-customer", type=click.FloatRange(min=0, min_open=True),
              help="Mean orders per customer to aim at (default: the shop's natural ~1.5).")
@click.option("--days", type=click.IntRange(min=0), default=0, show_default=True,
              help="Write the last N days as daily drops (orders/2026-11-21.parquet ...), the "
                   "days before as one history file per entity; 0: one file per entity.")
@click.option("--history-days", type=click.IntRange(min=60), default=730, show_default=True,
              help="Days of history up to --end.")
@click.option("--chunk-customers", type=click.IntRange(min=1), default=None,
              help="Customers generated and written together (bounds the memory; default 50000).")
def generate(customers: int, out: Path, seed: int, end: dt.date | None, fmt: str,
             orders_per_customer: float | None, days: int, history_days: int,
             chunk_customers: int | None) -> None:
    """Write a realistic sample shop to a landing folder."""
    from retention_pipeline.generator import CHUNK_CUSTOMERS, generate_shop

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rows = generate_shop(out, customers=customers, seed=seed, end=end, fmt=fmt,
                         history_days=history_days, orders_per_customer=orders_per_customer,
                         days=days, chunk_customers=chunk_customers or CHUNK_CUSTOMERS)
    elapsed = time.perf_counter() - started
    for entity, count in rows.items():
        click.echo(f"{entity:<12} {count:>12,} rows")
    click.echo(f"wrote {out} in {elapsed:.1f} s")


def _settings_options(func):
    options = [
        click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
                     help="TOML config file (default: $RETENTION_CONFIG or ./retention.toml)."),
        click.option("--landing", type=click.Path(file_okay=False, path_type=Path),
                     help="Landing folder (default: generate the sample shop into data/landing)."),
        click.option("--source-url", "source_url",
                     help="Shop database to read instead of a landing folder (SQLAlchemy URL, "
                     "password in RETENTION_SOURCE_PASSWORD; default: none)."),
        click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path),
                     help="DuckDB warehouse file (default: data/warehouse.duckdb)."),
        click.option("--exports", type=click.Path(file_okay=False, path_type=Path),
                     help="Exports folder (default: data/exports)."),
        click.option("--as-of", "as_of", callback=_date,
                     help="The day the run is for, YYYY-MM-DD (default: today in the reporting tz)."),
        click.option("--reporting-tz", "reporting_tz", help="IANA time zone (default: UTC)."),
        click.option("--serving", type=click.Path(dir_okay=False, path_type=Path),
                     help="DuckDB serving file for BI tools (default: data/serving.duckdb)."),
        click.option("--serving-postgres-url", "serving_postgres_url",
                     help="PostgreSQL URL to publish the marts to (default: none)."),
        click.option("--serving-parquet", "serving_parquet",
                     type=click.Path(file_okay=False, path_type=Path),
                     help="Folder for <mart>.parquet serving files (default: none)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(config, **flags):
    try:
        return load_settings(config=config, **flags)
    except Exception as exc:  # pydantic / TOML / missing file: one clear line, exit 2
        # A setting may be a database URL: its password never reaches the terminal.
        raise click.UsageError(f"invalid settings: {redact_url(exc)}") from exc


def _guarded(func, *args):
    """Run `func`; a warehouse or folder that is not the sample shop's stops with one clear line."""
    from retention_pipeline.sample_guard import NotTheSampleError

    try:
        return func(*args)
    except NotTheSampleError as exc:
        raise click.ClickException(redact_url(exc)) from exc


def _progress(line: str) -> None:
    click.echo(f"[{dt.datetime.now():%H:%M:%S}] {line}")


@main.command()
@_settings_options
@click.option("--verbose", is_flag=True, default=None,
              help="Also print dbt's own log lines (default: one line per step).")
@click.option("--full-refresh", "full_refresh", is_flag=True, default=False,
              help="Rebuild every dbt model from raw (default: incremental when possible).")
def run(config, full_refresh: bool, **flags) -> None:
    """Materialize every asset for one day through Dagster, then print a summary.

    Exit codes: 0 success, 1 a step or a blocking check failed, 2 invalid settings,
    130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM.
    """
    from retention_pipeline.operations.processes import end_children
    from retention_pipeline.operations.stopping import StopWatcher, exit_code
    from retention_pipeline.runner import run_pipeline
    from retention_pipeline.summary import format_summary

    settings = _load(config, **flags)
    # dbt gets 8 s to stop on an interrupt (dagster-dbt's default is 25), so that SIGTERM ends
    # the run well inside systemd's default 90 s and a deploy's patience.
    os.environ.setdefault("DAGSTER_DBT_TERMINATION_TIMEOUT_SECONDS", "8")
    started = time.perf_counter()
    with StopWatcher(_progress) as stop:
        try:
            outcome = _guarded(run_pipeline, settings, _progress, full_refresh)
        except KeyboardInterrupt:
            outcome = None
        if stop.stopped or outcome is None:
            end_children()
            _progress(f"interrupted after {time.perf_counter() - started:.1f} s")
            code = exit_code(stop.received() or signal.SIGINT)
    if outcome is None or stop.stopped:
        # The run is marked failed, its slot and the lock are free, the children are gone: exit
        # now rather than wait for worker threads of the interrupted libraries to wind down.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    click.echo(format_summary(settings, outcome))
    click.echo(f"took {time.perf_counter() - started:.1f} s")
    ok = outcome.success and outcome.blocking_checks_passed
    sys.exit(0 if ok else 1)


def _dagster_environment(settings, config: Path | None = None) -> Path:
    """Dagster home, landing, manifest and RETENTION_* env for a Dagster process; the workspace."""
    if config is not None:
        # The code server loads its own settings: the same config file, then the flags below.
        os.environ["RETENTION_CONFIG"] = str(Path(config).resolve())
    from retention_pipeline.assets.dbt import prepare_manifest
    from retention_pipeline.paths import REPO_DIR
    from retention_pipeline.runner import ensure_sample_landing, prepare_environment

    os.environ["DAGSTER_HOME"] = str(prepare_environment(settings))
    if settings.landing is None and settings.source_url is None:
        landing = _guarded(ensure_sample_landing, settings, settings.effective_as_of)
        os.environ["RETENTION_LANDING"] = str(landing.resolve())
    # The UI's code server reads its settings from the environment; pass on what flags said.
    # (No as-of: in the UI the partition picked is the as-of date.)
    for name in ("warehouse", "exports", "reporting_tz", "serving", "serving_postgres_url",
                 "serving_parquet", "source_url"):
        value = getattr(settings, name)
        if value is None:
            continue
        value = value.resolve() if isinstance(value, Path) else value
        os.environ[f"RETENTION_{name.upper()}"] = str(value)
    prepare_manifest(settings=settings)
    return REPO_DIR / "workspace.yaml"


def _exec(program: str, *args: str) -> None:
    path = Path(sys.executable).with_name(program)
    os.execv(str(path), [str(path), *args])


@main.command()
@_settings_options
@click.option("--port", type=int, default=3000, show_default=True)
def ui(config, port: int, **flags) -> None:
    """Start the Dagster UI (dagster dev) on the same settings."""
    workspace = _dagster_environment(_load(config, **flags), config)
    _exec("dagster", "dev", "-w", str(workspace), "-p", str(port))


@main.command()
@_settings_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=3000, show_default=True)
def webserver(config, host: str, port: int, **flags) -> None:
    """The Dagster UI as a long-running service (dagster-webserver); pair it with `daemon`."""
    workspace = _dagster_environment(_load(config, **flags), config)
    _exec("dagster-webserver", "-w", str(workspace), "-h", host, "-p", str(port))


@main.command()
@_settings_options
def daemon(config, **flags) -> None:
    """Dagster's daemon as a long-running service: schedules, the run queue, backfills."""
    workspace = _dagster_environment(_load(config, **flags), config)
    _exec("dagster-daemon", "run", "-w", str(workspace))


if __name__ == "__main__":
    main()
