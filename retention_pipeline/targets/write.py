"""Tables written by Python (the prediction fits) into the dbt target, where the dbt models of the
second phase read them (models/marts/_python_marts.yml).

    write_table(settings, "marts.model_fit", COLUMNS, rows, as_of=day)   # that day replaced
    write_table(settings, "marts.prediction_scores", COLUMNS, rows)      # the whole table replaced

One writer per target, each all-or-nothing (a reader never sees half a write, a failure leaves the
previous rows):
- duckdb: insert in one transaction on the warehouse file;
- postgres: COPY into a temporary table, then delete + insert into the table in the same
  transaction (the COPY code of the serving copy);
- spark: Parquet files in the folder local Spark would give table `<schema>.<table>`
  (`<lake>/warehouse/<schema>.db/<table>/`, where targets/read.py reads every Spark table), one
  per as-of date (or one for the whole table), each written aside and renamed into place; dbt
  registers the folder as that table when it starts (macros/python_marts.sql).

`columns` are (name -> DuckDB type) in table order. A table of an earlier version gains the
columns added since (NULL in its old rows).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

WHOLE_TABLE_FILE = "table.parquet"


def write_table(settings, table: str, columns: dict[str, str], rows: pa.Table,
                *, as_of: dt.date | None = None) -> int:
    """Replace the rows of `as_of` (history tables) or, without it, every row of `table`
    (schema.name) in the dbt target by `rows`. Returns the rows written."""
    rows = rows.select(list(columns))
    if settings.dbt_target == "postgres":
        write_postgres(settings, table, columns, rows, as_of)
    elif settings.dbt_target == "spark":
        write_lake(Path(settings.lake), table, rows, as_of)
    else:
        from retention_pipeline.warehouse import connect

        with connect(settings.warehouse, settings=settings) as con:
            write_duckdb(con, table, columns, rows, as_of)
    return rows.num_rows


def write_duckdb(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str],
                 rows: pa.Table, as_of: dt.date | None) -> None:
    view = f"_{table.split('.')[-1]}_rows"
    names = ", ".join(columns)
    con.register(view, rows)
    try:
        con.execute("begin transaction")
        try:
            _ensure_duckdb(con, table, columns)
            if as_of is None:
                con.execute(f"delete from {table}")
            else:
                con.execute(f"delete from {table} where as_of_date = ?", [as_of])
            con.execute(f"insert into {table} ({names}) select {names} from {view}")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister(view)


def _ensure_duckdb(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    ddl = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    for name, kind in columns.items():
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")


def write_postgres(settings, table: str, columns: dict[str, str], rows: pa.Table,
                   as_of: dt.date | None) -> None:
    from psycopg import sql

    from retention_pipeline.serving.postgres import connect as pg_connect
    from retention_pipeline.serving.postgres import copy_table, pg_type
    from retention_pipeline.warehouse import open_duckdb

    schema, name = table.split(".")
    target = sql.Identifier(schema, name)
    incoming = sql.Identifier("pg_temp", f"_{name}_rows")
    ddl = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(k))) for c, k in columns.items()
    )
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    # copy_table streams a DuckDB relation: the rows become one in an in-memory DuckDB.
    duck = open_duckdb(settings=settings)
    try:
        duck.register("_arrow_rows", rows)
        duck.execute("create table _rows as select * from _arrow_rows")
        with pg_connect(settings.warehouse_url) as pg:
            with pg.cursor() as cur:
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, ddl))
                for column, kind in columns.items():
                    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                        target, sql.Identifier(column), sql.SQL(pg_type(kind))))
            copy_table(duck, pg, "_rows", incoming, tuple(columns.items()))
            with pg.cursor() as cur:
                if as_of is None:
                    cur.execute(sql.SQL("DELETE FROM {}").format(target))
                else:
                    cur.execute(sql.SQL("DELETE FROM {} WHERE as_of_date = %s").format(target),
                                [as_of])
                cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    target, names, names, incoming))
                cur.execute(sql.SQL("DROP TABLE {}").format(incoming))
            pg.commit()
    finally:
        duck.close()


def write_lake(lake: Path, table: str, rows: pa.Table, as_of: dt.date | None) -> None:
    schema, name = table.split(".")
    folder = lake.resolve() / "warehouse" / f"{schema}.db" / name
    folder.mkdir(parents=True, exist_ok=True)
    if as_of is None:
        # the whole table is one file: nothing else may stay beside it
        for stale in folder.glob("*.parquet"):
            if stale.name != WHOLE_TABLE_FILE:
                stale.unlink()
    target = folder / (WHOLE_TABLE_FILE if as_of is None else f"{as_of.isoformat()}.parquet")
    # Spark skips files whose names start with '.', so a half-written file is never read.
    aside = folder / f".{target.name}.{os.getpid()}.tmp"
    pq.write_table(_spark_types(rows), aside)
    os.replace(aside, target)


def _spark_types(rows: pa.Table) -> pa.Table:
    """Timestamps as instants (UTC): the lake's tables declare Spark `timestamp` columns."""
    fields = [
        pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
        for f in rows.schema
    ]
    return rows.cast(pa.schema(fields))
