"""The ingestion's validated raw rows (DuckDB `raw.*`), loaded into the dbt target's `raw` schema.

PostgreSQL: every raw table re-created by COPY in one transaction (dbt waits for nothing half
loaded; a failed load leaves the previous copy). Spark: every raw table written as Parquet
partitioned by `_batch_date` under `<lake>/raw/<entity>/`, swapped in by renaming folders; dbt
registers them as tables in its own Spark session when it starts (macro register_raw_sources).
Quarantine and ingest_log are not copied: they stay in the DuckDB warehouse, where ingestion
writes them and the checks read them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from retention_pipeline.ingestion.schema import ENTITIES, RAW_SCHEMA
from retention_pipeline.serving.tables import quote, sql_path
from retention_pipeline.warehouse import connect

# A partition value no batch has: the zero-row file that gives an empty table its schema.
EMPTY_PARTITION = "_batch_date=1970-01-01"


def load_raw_into_target(settings) -> dict[str, int]:
    """Rows loaded per raw table; {} on the duckdb target (dbt reads the warehouse itself)."""
    if settings.dbt_target == "duckdb":
        return {}
    with connect(settings.warehouse, read_only=True, settings=settings) as con:
        if settings.dbt_target == "postgres":
            return load_postgres(con, settings.warehouse_url)
        return write_lake(con, Path(settings.lake))


def raw_columns(con: duckdb.DuckDBPyConnection, entity: str) -> tuple[tuple[str, str], ...]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [RAW_SCHEMA, entity],
    ).fetchall()
    return tuple((name, data_type) for name, data_type in rows)


def count_rows(con: duckdb.DuckDBPyConnection, entity: str) -> int:
    return int(con.execute(f"select count(*) from {RAW_SCHEMA}.{quote(entity)}").fetchone()[0])


def load_postgres(con: duckdb.DuckDBPyConnection, url: str) -> dict[str, int]:
    from psycopg import sql

    from retention_pipeline.serving.postgres import connect as pg_connect
    from retention_pipeline.serving.postgres import copy_table

    loaded = {}
    with pg_connect(url) as pg:
        with pg.cursor() as cur:
            # CASCADE: nothing but dbt's own models reads raw, and dbt rebuilds them next.
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(RAW_SCHEMA)))
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(RAW_SCHEMA)))
        for entity in ENTITIES:
            copy_table(con, pg, f"{RAW_SCHEMA}.{quote(entity)}",
                       sql.Identifier(RAW_SCHEMA, entity), raw_columns(con, entity))
            loaded[entity] = count_rows(con, entity)
        pg.commit()
    return loaded


def write_lake(con: duckdb.DuckDBPyConnection, lake: Path) -> dict[str, int]:
    root = lake.resolve() / RAW_SCHEMA
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for entity in ENTITIES:
        written[entity] = _write_entity(con, entity, raw_columns(con, entity), root)
    return written


def _write_entity(con, entity: str, columns, root: Path) -> int:
    target, fresh, stale = root / entity, root / f".{entity}.new", root / f".{entity}.old"
    for leftover in (fresh, stale):
        shutil.rmtree(leftover, ignore_errors=True)
    rows = count_rows(con, entity)
    # JSON as text: Spark reads it as a string, as the models expect.
    selected = ", ".join(
        f"cast({quote(n)} as varchar) as {quote(n)}" if t == "JSON" else quote(n) for n, t in columns
    )
    source = f"select {selected} from {RAW_SCHEMA}.{quote(entity)}"
    if rows:
        con.execute(f"COPY ({source}) TO '{sql_path(fresh)}' "
                    "(FORMAT parquet, PARTITION_BY (_batch_date))")
    else:
        (fresh / EMPTY_PARTITION).mkdir(parents=True)
        without_partition = f"select * exclude (_batch_date) from ({source}) limit 0"
        con.execute(f"COPY ({without_partition}) TO "
                    f"'{sql_path(fresh / EMPTY_PARTITION / 'empty.parquet')}' (FORMAT parquet)")
    if target.exists():
        target.rename(stale)
    fresh.rename(target)
    shutil.rmtree(stale, ignore_errors=True)
    return rows
