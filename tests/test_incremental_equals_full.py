"""Incremental dbt builds give exactly what a full refresh gives (docs/operations.md#incremental-runs).

A generated shop is run day by day over ten daily drops, with refunds re-sent in later drops and
orders arriving days after they were placed. Every day the warehouse built incrementally is
compared, table by table and row by row, with a copy of it rebuilt by a full refresh from the same
raw rows: every table of every schema but raw's (staging, intermediate, marts with the Python
steps' tables: predictions, campaign_candidates, contact_log, segment_members, campaign_lift;
seeds), found in the catalog, so tables added later are covered without touching this test.
Then an old day is backfilled: it must give what that day gave (history tables compared up to
that day), and the next daily run must again equal a full refresh.

Two warehouses advance in lockstep, without Dagster (a Dagster run of everything takes minutes
on this machine; the dbt step is planned, run and recorded by the same functions the dbt asset
calls, the Python steps are the same functions the assets call): ingestion once, into the
incremental warehouse, then a copy of it for the full refresh (so history tables such as
contact_log start the day equal), then both builds in parallel.
Not compared: schema `raw` (the same file, copied), schema `pipeline` (run metadata: when each
build ran and how), `marts.model_fit.fitted_at` and `marts.serving_log.published_at` (clock times
of the run), and the export files.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from retention_pipeline.assets.dbt import finish_dbt_build, plan_dbt_build
from retention_pipeline.dbt_parse import run_vars_env
from retention_pipeline.generator import generate_shop
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.pipeline import dbt, ingest

END = dt.date(2026, 11, 20)
DAYS = [END - dt.timedelta(days=n) for n in range(9, -1, -1)]  # ten daily drops
BACKFILLED = DAYS[3]
NOT_COMPARED_SCHEMAS = ("raw", "pipeline", "information_schema", "pg_catalog", "main")
DAILY = ("orders", "order_items", "events")
# Run metadata, not data: when the step ran. Every other column of every table is compared.
RUN_METADATA_COLUMNS = {"marts.model_fit": {"fitted_at"}, "marts.serving_log": {"published_at"}}
# The run-day column of tables that keep a row per run day (history kept across days).
HISTORY_DAY_COLUMNS = ("as_of_date", "as_of")


def _drops(source: Path) -> dict[dt.date, dict[str, pd.DataFrame]]:
    """The generator's daily files as frames (text as written), by day and entity."""
    drops: dict[dt.date, dict[str, pd.DataFrame]] = {}
    for entity in DAILY:
        for path in sorted((source / entity).glob("*.csv")):
            day = dt.date.fromisoformat(path.stem)
            drops.setdefault(day, {})[entity] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return drops


def _landing_plan(source: Path) -> dict[dt.date, dict[str, list[pd.DataFrame]]]:
    """What lands on each run day: the history up to the first day, then one drop a day, plus
    orders that arrive three days late and refunds of old orders re-sent with a later updated_at."""
    drops = _drops(source)
    plan: dict[dt.date, dict[str, list[pd.DataFrame]]] = {d: {} for d in DAYS}

    def land(day, entity, frame, name):
        if len(frame):
            plan[day].setdefault(entity, []).append((name, frame))

    late_days = set(DAYS[1:6])
    for day, frames in sorted(drops.items()):
        run_day = max(day, DAYS[0])
        orders = frames.get("orders", pd.DataFrame(columns=["order_id"]))
        # The first version of a few orders of these days arrives three days late, with its lines.
        late = set(orders["order_id"].iloc[::4]) if day in late_days else set()
        for entity, frame in frames.items():
            keep = ~frame["order_id"].isin(late) if "order_id" in frame and entity != "events" \
                else pd.Series(True, index=frame.index)
            land(run_day, entity, frame[keep], f"{day}.csv")
            if late:
                land(day + dt.timedelta(days=3), entity, frame[~keep], f"{day}-late.csv")
    # Refunds of orders placed before the first day, re-sent on three days (one of them twice).
    old = drops[DAYS[0] - dt.timedelta(days=20)]["orders"]
    old = old[old["status"].isin(["completed", "paid", "shipped"])]
    for k, day in enumerate((DAYS[1], DAYS[4], DAYS[8])):
        refunds = old.iloc[k * 3:(k + 1) * 3].copy()
        if k == 2:
            refunds = pd.concat([refunds, old.iloc[0:1]])  # refunded on DAYS[1], now partly back
        refunds["status"] = ["refunded"] * (len(refunds) - (k == 2)) + ["partially_refunded"] * (k == 2)
        refunds["refunded_amount"] = refunds["total_amount"]
        if k == 2:
            refunds.iloc[-1, refunds.columns.get_loc("refunded_amount")] = "1.00"
        refunds["updated_at"] = f"{day}T10:00:00+00:00"
        land(day, "orders", refunds, f"{day}-refunds.csv")
    return plan


def _land(landing: Path, files: dict[str, list]) -> None:
    for entity, named in files.items():
        for name, frame in named:
            path = landing / entity / name
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, index=False)


def _settings(warehouse: Path, as_of: dt.date):
    return load_settings(warehouse=warehouse, as_of=as_of, exports=warehouse.parent / "exports")


def _python_steps(warehouse: Path, as_of: dt.date) -> None:
    """The steps after dbt's first phase, in the job's order: the prediction fits, dbt's second
    phase (customer_predictions, history), then activation (campaign_candidates, contact_log,
    segment_members, campaign_lift, the export files)."""
    from retention_pipeline.activation.exports import write_exports
    from retention_pipeline.predictions.backtest import run_backtest, write_backtest
    from retention_pipeline.predictions.model_runs import daily_model_run, write_model_fit
    from retention_pipeline.predictions.scoring import score_patterns

    settings = _settings(warehouse, as_of)
    write_backtest(settings, run_backtest(settings, as_of))
    write_model_fit(settings, daily_model_run(settings, as_of))
    score_patterns(settings, as_of)
    # dbt's second phase (customer_predictions, history, activation), then the export files
    dbt(["build", "--select", "tag:after_predictions"], warehouse, {},
        env=run_vars_env(settings.dbt_vars(as_of)))
    write_exports(settings, as_of, settings.exports)


def _build(warehouse: Path, as_of: dt.date, full_refresh: bool, tests: bool = True) -> str:
    """One dbt build the way the dbt asset does it (plan, build, record), then the Python
    steps after it; returns the build's mode."""
    settings = _settings(warehouse, as_of)
    build_id = f"{warehouse.name}-{as_of}-{full_refresh}-{dt.datetime.now().timestamp()}"
    plan = plan_dbt_build(settings, as_of, full_refresh, build_id)
    status = "failed"
    try:
        skip = [] if tests else ["--exclude-resource-type", "test"]
        # The run's values through the environment, as the dbt asset passes them (dbt_parse.py):
        # the models are then parsed without them, as in production. Phase 1 only: the second
        # phase runs after the fits (_python_steps).
        dbt(["build", "--exclude", "tag:after_predictions", *skip, *plan.dbt_args()], warehouse,
            {}, env=run_vars_env({**settings.dbt_vars(as_of), **plan.dbt_vars()}))
        status = "succeeded"
    finally:
        finish_dbt_build(settings, build_id, status)
    _python_steps(warehouse, as_of)
    return plan.mode


def _tables(warehouse: Path, up_to: dt.date | None = None) -> dict[str, list[tuple]]:
    """Every table dbt and the Python steps wrote, as sorted rows. With `up_to`, the history
    tables (a row per run day: contact_log, model_fit …) only up to that day."""
    excluded = ", ".join(f"'{s}'" for s in NOT_COMPARED_SCHEMAS)
    with connect(warehouse, read_only=True) as con:
        names = con.execute(f"""
            select table_schema, table_name from information_schema.tables
            where table_schema not in ({excluded}) order by 1, 2""").fetchall()
        tables = {}
        for schema, table in names:
            skipped = RUN_METADATA_COLUMNS.get(f"{schema}.{table}", set())
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table]).fetchall() if c not in skipped]
            day_column = next((c for c in HISTORY_DAY_COLUMNS if c in columns), None)
            where = f"where {day_column} <= '{up_to}'" if up_to and day_column else ""
            selected = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {selected} from "{schema}"."{table}" {where}').fetchall()
            tables[f"{schema}.{table}"] = sorted(rows, key=repr)
        return tables


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (float, Decimal)) and isinstance(b, (float, Decimal)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _differences(left: dict, right: dict) -> list[str]:
    problems = []
    if set(left) != set(right):
        problems.append(f"tables differ: {sorted(set(left) ^ set(right))}")
    for name in sorted(set(left) & set(right)):
        a, b = left[name], right[name]
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows vs {len(b)}")
            continue
        for row_a, row_b in zip(a, b, strict=True):
            if len(row_a) != len(row_b) or not all(map(_same, row_a, row_b)):
                problems.append(f"{name}: {row_a} != {row_b}")
                break
    return problems


@pytest.mark.slow  # two dbt builds a day for ten days, a backfill and a catch-up
def test_incremental_builds_equal_full_refreshes_every_day_and_after_a_backfill(tmp_path):
    source = tmp_path / "generated"
    generate_shop(source, customers=400, seed=11, end=END, history_days=60, split_daily=True)
    plan = _landing_plan(source)
    landing = tmp_path / "landing"
    landing.mkdir()
    for entity in ("customers", "products"):  # whole files, as a shop's export sends them
        shutil.copy(source / f"{entity}.csv", landing / f"{entity}.csv")
    incremental = tmp_path / "incremental" / "w.duckdb"
    full = tmp_path / "full" / "w.duckdb"
    full.parent.mkdir()
    seen: dict[dt.date, dict] = {}

    def day(as_of: dt.date, new_files: dict, tests: bool = False) -> None:
        _land(landing, new_files)
        ingest(landing, incremental, as_of)
        shutil.copy(incremental, full)  # the same raw rows (and history) on both sides
        with ThreadPoolExecutor(2) as pool:
            modes = list(pool.map(lambda job: _build(*job), [
                (incremental, as_of, False, tests), (full, as_of, True, False)]))
        assert modes[1] == "full"
        tables = _tables(incremental)
        problems = _differences(tables, _tables(full))
        assert not problems, f"{as_of}: " + "\n".join(p[:2000] for p in problems)
        seen[as_of] = (modes[0], tables)

    for as_of in DAYS[:-1]:
        # dbt's tests (the scoped unique test among them) run on the first incremental day
        # and the last: they never change a table, and they double a build's time.
        day(as_of, plan[as_of], tests=as_of == DAYS[1])
    modes = {d: seen[d][0] for d in DAYS[:-1]}
    assert modes[DAYS[0]] == "full" and set(modes.values()) == {"full", "incremental"}, modes
    assert all(modes[d] == "incremental" for d in DAYS[1:-1]), modes
    # The re-sent refunds and the late orders did reach the marts (the test exercises them).
    with connect(incremental, read_only=True) as con:
        assert con.execute(
            "select count(*) from staging.stg_shop__orders where status = 'refunded' "
            f"and cast(updated_at as date) in ('{DAYS[1]}', '{DAYS[4]}')").fetchone()[0] >= 5
        assert con.execute(
            "select count(*) from raw.orders where _source_file like '%-late.csv'").fetchone()[0] > 0

    # A backfill of an old day after later days: what that day gave, table for table.
    backfill_tables = seen[BACKFILLED][1]
    ingest(landing, incremental, BACKFILLED)
    assert _build(incremental, BACKFILLED, False, tests=False) == "full"
    problems = _differences(_tables(incremental, up_to=BACKFILLED), backfill_tables)
    assert not problems, "backfill: " + "\n".join(p[:2000] for p in problems)
    # ...and the next daily run catches up incrementally from the backfill's as-of date.
    day(DAYS[-1], plan[DAYS[-1]], tests=True)
    assert seen[DAYS[-1]][0] == "incremental"
