"""Whether a dbt build may be incremental, and from where (docs/operations.md#incremental-runs).

Every dbt build is recorded in `pipeline.dbt_builds` (as-of date, mode, the newest `_ingested_at`
in raw when it started, a key of the settings and dbt project it ran with, and whether it
finished). A build is incremental only when all of these hold; otherwise it is a full refresh:

- no full refresh was asked for (`retention run --full-refresh`, or `full_refresh: true` in the
  launchpad's run config of the dbt step);
- an earlier build succeeded, and every build since ran with the same settings key (reporting
  time zone, minimum order value, the dbt models, macros and seeds themselves);
- the as-of date is not before any build's as-of date since (the high-water mark): incremental
  models only move forward in time, so a backfill of an old day rebuilds everything for that
  day, and the next daily run, seeing the backfill's earlier as-of date, catches up from it;
- each raw table's first batch is the one the last success saw (it is history visible to every as-of date).

A build that failed part-way leaves each model at the last success or at the failed build's
state; the next incremental build re-touches everything since the last *success*, which covers
both, so it is always correct to retry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

STATE_SCHEMA = "pipeline"
STATE_TABLE = f"{STATE_SCHEMA}.dbt_builds"
RAW_TABLES = ("customers", "products", "orders", "order_items", "events")

_CREATE = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    build_id VARCHAR,
    as_of DATE,
    mode VARCHAR,            -- 'full' | 'incremental'
    reason VARCHAR,          -- why this mode
    settings_key VARCHAR,
    raw_watermark TIMESTAMP, -- max(_ingested_at) over raw when the build started
    first_batches VARCHAR,   -- min(_batch_date) of each raw table then (JSON)
    since_as_of DATE,        -- incremental: the last success's as-of date
    since_watermark TIMESTAMP,
    status VARCHAR,          -- 'started' | 'succeeded' | 'failed' | 'partial'
    started_at TIMESTAMP,
    finished_at TIMESTAMP
)"""


@dataclass(frozen=True)
class BuildPlan:
    build_id: str
    as_of: dt.date
    mode: str
    reason: str
    settings_key: str
    raw_watermark: dt.datetime | None
    first_batches: str
    since_as_of: dt.date | None = None
    since_watermark: dt.datetime | None = None

    @property
    def full_refresh(self) -> bool:
        return self.mode == "full"

    def dbt_vars(self) -> dict[str, str]:
        """The vars the incremental models read (dbt_project/macros/incremental.sql)."""
        if self.full_refresh:
            return {}
        return {
            "incremental_since_as_of": self.since_as_of.isoformat(),
            "incremental_since_ingested": self.since_watermark.isoformat(sep=" "),
        }

    def dbt_args(self) -> list[str]:
        return ["--full-refresh"] if self.full_refresh else []


def settings_key(dbt_vars: dict, project_dir: Path) -> str:
    """Settings that change every model's content, plus the dbt code: any change rebuilds."""
    digest = hashlib.sha256(json.dumps(
        {k: v for k, v in sorted(dbt_vars.items()) if k != "as_of"}, default=str).encode())
    paths = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds"):
        paths += sorted((project_dir / folder).rglob("*"))
    for path in paths:
        if path.is_file():
            digest.update(path.relative_to(project_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_table(con) -> None:
    con.execute(_CREATE)


def plan_build(con, build_id: str, as_of: dt.date, key: str, full_refresh: bool) -> BuildPlan:
    """Decide the mode of this build (rules in the module docstring)."""
    ensure_table(con)
    watermark, first_batches = _raw_marks(con)
    base = {"build_id": build_id, "as_of": as_of, "settings_key": key,
            "raw_watermark": watermark, "first_batches": first_batches}
    if full_refresh:
        return BuildPlan(mode="full", reason="full refresh requested", **base)
    last = con.execute(
        f"""SELECT as_of, raw_watermark, first_batches, started_at FROM {STATE_TABLE}
            WHERE status = 'succeeded' ORDER BY started_at DESC LIMIT 1""").fetchone()
    if last is None or last[1] is None:
        return BuildPlan(mode="full", reason="no earlier successful build", **base)
    since_as_of, since_watermark, since_first_batches, since_started = last
    keys, high_water = con.execute(
        f"""SELECT list(DISTINCT settings_key), max(as_of) FROM {STATE_TABLE}
            WHERE started_at >= ?""", [since_started]).fetchone()
    if set(keys) != {key}:
        return BuildPlan(mode="full", reason="settings or dbt project changed", **base)
    if as_of < high_water:
        return BuildPlan(mode="full", reason=f"as-of {as_of} is before {high_water} (backfill)",
                         **base)
    if since_first_batches != first_batches:
        return BuildPlan(mode="full", reason="the first raw batch changed", **base)
    return BuildPlan(mode="incremental", reason=f"changes since the build for {since_as_of}",
                     since_as_of=since_as_of, since_watermark=since_watermark, **base)


def record_start(con, plan: BuildPlan) -> None:
    ensure_table(con)
    con.execute(
        f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'started', ?, NULL)",
        [plan.build_id, plan.as_of, plan.mode, plan.reason, plan.settings_key,
         plan.raw_watermark, plan.first_batches, plan.since_as_of, plan.since_watermark, _now()])


def record_end(con, build_id: str, status: str) -> None:
    con.execute(f"UPDATE {STATE_TABLE} SET status = ?, finished_at = ? WHERE build_id = ?",
                [status, _now(), build_id])


def _raw_marks(con) -> tuple[dt.datetime | None, str]:
    """The newest `_ingested_at` over raw, and each raw table's first batch (as JSON)."""
    present = {name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}
    tables = [name for name in RAW_TABLES if name in present]
    watermark, firsts = None, {}
    for name in tables:
        newest, first = con.execute(
            f"SELECT max(_ingested_at), min(_batch_date) FROM raw.{name}").fetchone()
        if newest is not None:
            watermark = newest if watermark is None else max(watermark, newest)
        firsts[name] = first.isoformat() if first else None
    return watermark, json.dumps(firsts, sort_keys=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
