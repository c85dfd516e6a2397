"""The dbt target's tables seen through a local DuckDB connection.

The steps that query marts with SQL after dbt (Great Expectations pulls, the charts and headline
numbers in the UI, the serving copies) are written once, against DuckDB. On the duckdb target they
read the warehouse file itself; on postgres and spark the tables they need are first copied, batch
by batch (read.py), into a DuckDB of the step's own, bounded by the `duckdb_*` settings like every
pipeline connection. The copy is of the marts a step reads, never of raw history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from retention_pipeline.serving.tables import quote
from retention_pipeline.targets.read import iter_batches, read_table, table_exists


@contextmanager
def target_view(settings, tables: Iterable[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only DuckDB connection in which each `schema.table` of `tables` that the dbt
    target holds reads as it does there (a table the target lacks is absent here too)."""
    from retention_pipeline.warehouse import connect, open_duckdb

    if settings.dbt_target == "duckdb":
        with connect(settings.warehouse, read_only=True, settings=settings) as con:
            yield con
        return
    con = open_duckdb(settings=settings)
    try:
        copy_into(con, settings, tables)
        yield con
    finally:
        con.close()


def copy_into(
    con: duckdb.DuckDBPyConnection, settings, tables: Iterable[str], catalog: str | None = None
) -> list[str]:
    """Copy the target's `schema.table`s into `con` (into `catalog`, else its default one), in
    batches. Returns the tables copied; those the target does not hold are left out."""
    copied = []
    prefix = f"{quote(catalog)}." if catalog else ""
    for qualified in tables:
        schema, _, table = qualified.partition(".")
        if not table_exists(settings, schema, table):
            continue
        con.execute(f"create schema if not exists {prefix}{quote(schema)}")
        batches = _reader(settings, schema, table)
        con.register("_target_batches", batches)
        try:
            con.execute(f"create table {prefix}{quote(schema)}.{quote(table)} as "
                        "select * from _target_batches")
        finally:
            con.unregister("_target_batches")
        copied.append(qualified)
    return copied


def _reader(settings, schema: str, table: str) -> pa.RecordBatchReader:
    """The table as one stream of batches, with its schema known before the first batch."""
    batches = iter_batches(settings, schema, table)
    first = next(batches, None)
    if first is None:
        return pa.RecordBatchReader.from_batches(read_table(settings, schema, table).schema, [])

    def chained():
        yield first
        yield from batches

    return pa.RecordBatchReader.from_batches(first.schema, chained())
