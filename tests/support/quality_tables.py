"""Raw tables for the quality-check tests: the ingestion layer's own DDL, rows inserted by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb

from retention_pipeline.ingestion.schema import ENTITIES, raw_table_ddl


def create_raw_tables(con: duckdb.DuckDBPyConnection, entities: Sequence[str] = ENTITIES) -> None:
    con.execute("create schema if not exists raw")
    for entity in entities:
        con.execute(raw_table_ddl(entity))


def insert_rows(
    con: duckdb.DuckDBPyConnection, entity: str, rows: Sequence[Mapping], batch_date: dt.date
) -> None:
    """Rows as dicts of column -> value; lineage columns filled in (source line = position)."""
    for line, row in enumerate(rows, start=1):
        values = {**row, "_batch_date": batch_date, "_source_file": f"{entity}.csv",
                  "_source_line": line, "_ingested_at": dt.datetime(2026, 1, 1)}
        columns = ", ".join(f'"{c}"' for c in values)
        marks = ", ".join("?" for _ in values)
        con.execute(f"insert into raw.{entity} ({columns}) values ({marks})", list(values.values()))
