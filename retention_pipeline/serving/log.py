"""`marts.serving_log`: one row per published table and target, written after the publish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from retention_pipeline.serving.tables import Mart
from retention_pipeline.warehouse import connect, table_exists

SERVING_LOG = "marts.serving_log"

_CREATE = f"""
create table if not exists {SERVING_LOG} (
    target varchar not null,      -- 'serving' (DuckDB file), 'postgres' or 'parquet'
    as_of_date date not null,     -- the day the published marts are for
    published_at timestamptz not null,
    "table" varchar not null,
    "rows" bigint not null        -- rows published, equal to the warehouse's
)
"""


def record_publish(
    warehouse: Path, target: str, as_of: dt.date, published_at: dt.datetime, marts: list[Mart]
) -> None:
    with connect(warehouse) as con:
        # On the postgres and spark targets the warehouse holds no marts but this log.
        con.execute("create schema if not exists marts")
        con.execute(_CREATE)
        con.executemany(
            f"insert into {SERVING_LOG} values (?, ?, ?, ?, ?)",
            [(target, as_of, published_at, m.name, m.rows) for m in marts],
        )


def latest_publishes(warehouse: Path, as_of: dt.date) -> dict[str, tuple[int, int]]:
    """target -> (tables, rows) of the latest publish of each target for `as_of` (for summaries)."""
    if not Path(warehouse).exists():
        return {}
    with connect(warehouse, read_only=True) as con:
        if not table_exists(con, *SERVING_LOG.split(".")):
            return {}
        rows = con.execute(
            f"""
            select target, count(*), sum("rows") from {SERVING_LOG} as l
            where as_of_date = ? and published_at = (
                select max(published_at) from {SERVING_LOG} where target = l.target and as_of_date = ?)
            group by target order by target
            """,
            [as_of, as_of],
        ).fetchall()
    return {target: (int(tables), int(total)) for target, tables, total in rows}


def last_published_at(con, target: str) -> dt.datetime | None:
    """When `target` was last published (naive UTC; on the warehouse's `con`), None if never."""
    if not table_exists(con, *SERVING_LOG.split(".")):
        return None
    last = con.execute(
        f"select max(published_at) from {SERVING_LOG} where target = ?", [target]).fetchone()[0]
    if last is not None and last.tzinfo is not None:
        last = last.astimezone(dt.UTC).replace(tzinfo=None)
    return last
