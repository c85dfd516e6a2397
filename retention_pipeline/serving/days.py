"""Which days of the history tables the DuckDB serving file must compare with the warehouse.

A history table (`meta: {history_day: <column>}` in the dbt YAML: dim_customers_history,
contact_log) keeps every day, and a build for a day replaces only that day's rows. Comparing the
whole table at every publish would cost more each day (dim_customers_history gains a row per
customer a day); so a publish compares only the days the second dbt phase built since the last
publish of the serving file (recorded in `pipeline.history_builds` when that phase starts, kept
even if it fails), the day being published, and every day whose row count differs between the
warehouse and the served file. Without a publish on record every day is compared.

What this trusts: a history day changes only through the pipeline's own second phase. A day
rebuilt by hand (a `dbt build` outside the pipeline) keeping its row count is not seen until the
serving file is written anew (deleting it makes the next publish write every table).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

META_KEY = "history_day"
BUILDS_TABLE = "pipeline.history_builds"
_CREATE = f"""
create schema if not exists pipeline;
create table if not exists {BUILDS_TABLE} (
    as_of_date date not null,       -- the day the second dbt phase built
    started_at timestamp not null   -- when it started (naive UTC)
)"""


@dataclass(frozen=True)
class HistoryDays:
    """The history tables' day columns, and the days of theirs to compare; with `days` None
    every day is compared."""

    columns: dict[str, str]
    days: Collection[dt.date] | None


def history_days(warehouse: Path, target: str, as_of: dt.date) -> HistoryDays:
    """What a publish of `as_of` to `target` compares of the history tables."""
    from retention_pipeline.warehouse import connect

    with connect(warehouse, read_only=True) as con:
        days = days_to_compare(con, target, as_of)
    return HistoryDays(default_history_day_columns(), days)


def history_day_columns(manifest_path: Path) -> dict[str, str]:
    """Model name -> its day column, for the models marked `meta: {history_day: <column>}`."""
    manifest = json.loads(Path(manifest_path).read_text())
    return {
        node["name"]: meta[META_KEY]
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
        and META_KEY in (meta := node.get("config", {}).get("meta") or node.get("meta") or {})
    }


def default_history_day_columns() -> dict[str, str]:
    """From the manifest of the project on disk (made by `prepare_manifest`)."""
    from retention_pipeline.assets.dbt import dbt_project

    return history_day_columns(dbt_project().manifest_path)


def record_history_build(con, as_of: dt.date, now: dt.datetime | None = None) -> None:
    """Before the second dbt phase writes `as_of`'s history rows (on the warehouse's `con`)."""
    con.execute(_CREATE)
    started = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(f"insert into {BUILDS_TABLE} values (?, ?)", [as_of, started])


def days_to_compare(con, target: str, as_of: dt.date) -> frozenset[dt.date] | None:
    """The days built since the last publish to `target` (read on the warehouse's `con`), and
    `as_of`; None when no publish is on record (then every day is compared)."""
    from retention_pipeline.serving.log import last_published_at
    from retention_pipeline.warehouse import table_exists

    last = last_published_at(con, target)
    if last is None or not table_exists(con, *BUILDS_TABLE.split(".")):
        return None
    built = con.execute(
        f"select distinct as_of_date from {BUILDS_TABLE} where started_at >= ?", [last]
    ).fetchall()
    return frozenset({as_of, *(day for (day,) in built)})
