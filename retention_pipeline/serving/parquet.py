"""Parquet serving files: `<folder>/<mart>.parquet`, each written beside and moved over the old one.

Each file is replaced atomically on its own; a reader that opens two files during a publish may
get one of each day (the DuckDB file or PostgreSQL are the copies for consistent days).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retention_pipeline.serving.files import remove_stale_temps, replace_atomically, temp_path
from retention_pipeline.serving.tables import Mart, sql_path
from retention_pipeline.warehouse import open_duckdb

TARGET = "parquet"


def publish_parquet(con: duckdb.DuckDBPyConnection, marts: list[Mart], folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for mart in marts:
        final = folder / f"{mart.name}.parquet"
        remove_stale_temps(final)
        tmp = temp_path(final)
        con.execute(f"COPY ({mart.select_sql()}) TO '{sql_path(tmp)}' (FORMAT parquet)")
        replace_atomically(tmp, final)
    return folder


def parquet_counts(folder: Path, names: list[str]) -> dict[str, int]:
    counts = {}
    with open_duckdb() as con:
        for name in names:
            path = sql_path(Path(folder) / f"{name}.parquet")
            counts[name] = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
    return counts
