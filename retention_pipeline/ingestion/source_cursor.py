"""Where the next read of a shop database table starts (README: Reading a shop database).

The cursor of a table is the highest `updated_at` (else the entity's own timestamp) that a read
of it saw, at most the time of that read; it is kept in `raw.ingest_log.source_cursor`, written in the same DuckDB transaction
as the rows it covers, so a run that fails after reading leaves the cursor where it was. The
next read starts `lag` before it: a row committed late with an earlier stamp is still read (and
a row read twice is a duplicate, not a second version).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.ingestion.schema import INGEST_LOG_TABLE


def last_cursor(con: duckdb.DuckDBPyConnection, entity: str, source_file: str) -> dt.datetime | None:
    """The cursor of the last successful read of `source_file` ('db:<table>'); None: never read."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'raw' "
        "AND table_name = 'ingest_log' AND column_name = 'source_cursor'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute(
        f"SELECT max(source_cursor) FROM {INGEST_LOG_TABLE} WHERE entity = ? AND source_file = ?",
        [entity, source_file],
    ).fetchone()[0]


def window_start(cursor: dt.datetime | None, lag: dt.timedelta) -> dt.datetime | None:
    """First `updated_at` (naive UTC) the next read includes; None: read everything."""
    return None if cursor is None else cursor - lag


def advanced(previous: dt.datetime | None, read_max: dt.datetime | None) -> dt.datetime | None:
    """The cursor after a read: never backwards (a read of only late rows keeps the old one)."""
    values = [v for v in (previous, read_max) if v is not None]
    return max(values) if values else None
