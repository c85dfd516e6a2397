"""Which marts are served, with which columns, and a read-only view of the warehouse to copy from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention_pipeline.warehouse import open_duckdb

SCHEMA = "marts"
# What the publishers write about themselves is not a mart to serve (and is written after them).
NOT_SERVED = frozenset({"serving_log"})
WAREHOUSE = "w"


@dataclass(frozen=True)
class Mart:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), in table order
    rows: int

    @property
    def column_list(self) -> str:
        return ", ".join(quote(name) for name, _ in self.columns)

    def select_sql(self, catalog: str = WAREHOUSE) -> str:
        return f"select {self.column_list} from {catalog}.{SCHEMA}.{quote(self.name)}"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def warehouse_reader(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the warehouse attached read-only as `w` (other files can be
    attached beside it for writing). Session time zone UTC, as every warehouse connection."""
    con = open_duckdb()
    try:
        con.execute(f"ATTACH '{sql_path(warehouse)}' AS {WAREHOUSE} (READ_ONLY)")
        yield con
    finally:
        con.close()


@contextmanager
def marts_reader(settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """`warehouse_reader` for the marts wherever dbt built them: the warehouse itself on the
    duckdb target; on postgres and spark an in-memory catalog `w` holding a copy of the target's
    `marts` tables (targets/local.py), so that every publisher reads one way."""
    if settings.dbt_target == "duckdb":
        with warehouse_reader(settings.warehouse) as con:
            yield con
        return
    from retention_pipeline.targets.local import copy_into
    from retention_pipeline.targets.read import list_tables

    con = open_duckdb(settings=settings)
    try:
        con.execute(f"ATTACH ':memory:' AS {WAREHOUSE}")
        names = [t for t in list_tables(settings, SCHEMA) if t not in NOT_SERVED]
        copy_into(con, settings, [f"{SCHEMA}.{t}" for t in names], catalog=WAREHOUSE)
        yield con
    finally:
        con.close()


def served_marts(
    con: duckdb.DuckDBPyConnection, personal: frozenset[str], serve_personal: bool
) -> list[Mart]:
    """Every table of the warehouse's `marts` schema but the serving log, with its row count;
    columns named as personal data left out unless they are to be served."""
    rows = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? order by table_name, ordinal_position",
        [WAREHOUSE, SCHEMA],
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        if table in NOT_SERVED:
            continue
        kept = columns.setdefault(table, [])
        if serve_personal or column.lower() not in personal:
            kept.append((column, data_type))
    marts = []
    for table, kept in columns.items():
        count = con.execute(f"select count(*) from {WAREHOUSE}.{SCHEMA}.{quote(table)}").fetchall()[0][0]
        marts.append(Mart(table, tuple(kept), int(count)))
    return marts


def sql_path(path: Path) -> str:
    """A file path as the body of a SQL string literal."""
    return str(Path(path).resolve()).replace("'", "''")
