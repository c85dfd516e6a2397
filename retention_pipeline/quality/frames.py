"""What a quality check pulls from DuckDB: one bounded DataFrame per suite.

Great Expectations cannot query DuckDB, so each suite runs on a pandas frame. The frame is
bounded three ways, so that a check's cost follows the day's data and not the history:
- raw tables: only the day's batch (`_batch_date` = the as-of date);
- only the columns the suite reads (derived columns, such as a referential lookup, are computed
  by DuckDB in the same query);
- at most `quality_max_rows` rows: a bigger batch (a first full-history load) is thinned by a hash
  of the key, which keeps every version of a sampled key together, so duplicate keys are still
  found exactly among the sampled keys; rows with a null key are always kept.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

SCOPE = "scope"


@dataclass(frozen=True)
class Frame:
    """One suite's rows: `sql` selects from the relation `scope` (the table, filtered)."""

    name: str
    table: str  # schema.table
    sql: str
    expectations: Callable[[dt.date], list]  # as-of date -> GX expectations (the suite)
    key: str | None = None  # sampling key; None: never sampled (an aggregate of the whole table)
    batch_only: bool = False  # raw tables: only rows with _batch_date = as-of
    also_reads: tuple[str, ...] = ()  # other schema.tables its SQL reads (copied with it off duckdb)

    @property
    def schema_and_table(self) -> tuple[str, str]:
        schema, _, table = self.table.partition(".")
        return schema, table


@dataclass(frozen=True)
class Pulled:
    df: pd.DataFrame
    rows_in_scope: int  # rows the frame stands for (the day's batch, or the whole mart)
    sampled: bool


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """`table` as schema.name."""
    from retention_pipeline.warehouse import table_exists as exists

    schema, _, name = table.partition(".")
    return exists(con, schema, name)


def pull(con: duckdb.DuckDBPyConnection, frame: Frame, as_of: dt.date, max_rows: int) -> Pulled:
    where = "_batch_date = $as_of" if frame.batch_only else "true"
    params = {"as_of": as_of}
    rows = None
    sample = ""
    if frame.key is not None:
        count_sql = f"select count(*) from {frame.table} where {where}"
        rows = con.execute(count_sql, _used(params, count_sql)).fetchone()[0]
        if rows > max_rows:
            modulus = math.ceil(rows / max_rows)
            sample = f" and ({frame.key} is null or hash({frame.key}) % {modulus} = 0)"
    # The frame's own query is a subquery, so it may have its own WITH.
    sql = (
        f"with {SCOPE} as (select * from {frame.table} where {where}{sample})\n"
        f"select * from (\n{frame.sql}\n)"
    )
    df = con.execute(sql, _used(params, sql)).df()
    return Pulled(df=df, rows_in_scope=len(df) if rows is None else int(rows), sampled=bool(sample))


def _used(params: dict, sql: str) -> dict:
    # DuckDB rejects named parameters the statement does not use.
    return {k: v for k, v in params.items() if f"${k}" in sql}
