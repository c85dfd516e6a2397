"""`marts.serving_log`: one row per published table and target, written after the publish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from retention_pipeline.serving.tables import Mart
from retention_pipeline.warehouse import connect

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
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'serving_log'"
        ).fetchone()[0]
        if not exists:
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
