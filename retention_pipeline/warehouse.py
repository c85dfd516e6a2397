"""The DuckDB warehouse file: one writer at a time, sessions pinned to UTC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the file is free for the next writer (dbt, a test).

    The session time zone is UTC so that casts between TIMESTAMP and TIMESTAMPTZ never depend on
    the machine's time zone (the raw layer stores naive UTC).
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
