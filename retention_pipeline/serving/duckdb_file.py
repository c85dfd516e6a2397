"""The DuckDB serving file: every served mart in a new file, moved over the old one.

DuckDB 2.0 writes a storage format DuckDB 1.x cannot open, and the DuckDB that BI drivers embed
(Metabase's, duckdb-engine under Superset, Evidence) is often 1.x; the file is attached with the
oldest storage version DuckDB 1.x reads.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retention_pipeline.serving.files import remove_stale_temps, replace_atomically, temp_path
from retention_pipeline.serving.tables import SCHEMA, Mart, quote, sql_path
from retention_pipeline.warehouse import open_duckdb

STORAGE_VERSION = "v1.0.0"
TARGET = "serving"


def publish_duckdb_file(con: duckdb.DuckDBPyConnection, marts: list[Mart], path: Path) -> Path:
    """Write `marts` (from the warehouse attached to `con`) into `path`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_path(path)
    tmp.unlink(missing_ok=True)
    con.execute(f"ATTACH '{sql_path(tmp)}' AS s (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        con.execute(f"CREATE SCHEMA s.{SCHEMA}")
        for mart in marts:
            con.execute(f"CREATE TABLE s.{SCHEMA}.{quote(mart.name)} AS {mart.select_sql()}")
        con.execute("CHECKPOINT s")
    except BaseException:
        con.execute("DETACH s")
        remove_stale_temps(path)
        raise
    con.execute("DETACH s")
    # A write-ahead log beside the final name would be replayed onto the new file: none may stay.
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    replace_atomically(tmp, path)
    return path


def duckdb_file_counts(path: Path, settings=None) -> dict[str, int]:
    """Row counts of the published file, read back through a fresh read-only connection."""
    with open_duckdb(path, read_only=True, settings=settings) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        ).fetchall()]
        return {
            t: con.execute(f"select count(*) from {SCHEMA}.{quote(t)}").fetchone()[0] for t in tables
        }

