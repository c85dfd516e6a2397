"""The DuckDB warehouse file: one writer at a time, sessions pinned to UTC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from retention_pipeline.files import make_private, private_mkdir


@contextmanager
def connect(
    path: Path, read_only: bool = False, settings=None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that is always closed, so the file is free for the next writer (dbt, a test).

    The session time zone is UTC so that casts between TIMESTAMP and TIMESTAMPTZ never depend on
    the machine's time zone (the raw layer stores naive UTC). A warehouse file created here holds
    personal data: it is made private (files.py; `settings` says whether group-readable).
    """
    path = Path(path)
    created = False
    if not read_only:
        private_mkdir(path.parent, settings)
        created = not path.exists()
    con = duckdb.connect(str(path), read_only=read_only)
    if created:
        make_private(path, settings)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
