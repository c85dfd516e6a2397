"""The DuckDB warehouse file: one writer at a time, sessions pinned to UTC and bounded in memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from retention_pipeline.files import make_private, private_mkdir


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists on this DuckDB connection (a table or a view)."""
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0] > 0


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
    con = open_duckdb(path, read_only=read_only, settings=settings)
    if created:
        make_private(path, settings)
    try:
        yield con
    finally:
        con.close()


def open_duckdb(
    database: Path | str = ":memory:", read_only: bool = False, settings=None
) -> duckdb.DuckDBPyConnection:
    """Every DuckDB connection of the pipeline is opened here: UTC session, and the memory
    limit, threads and spill folder of the settings (`duckdb_*`), so that no step can take
    more memory than the deployment allows (dbt gets the same values through profiles.yml)."""
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        apply_session_settings(con, settings)
    except BaseException:
        con.close()
        raise
    return con


def apply_session_settings(con: duckdb.DuckDBPyConnection, settings=None) -> None:
    config = _settings(settings).duckdb_config()
    # The spill folder holds pages of the warehouse (personal data): private like the file.
    temp = Path(config["temp_directory"])
    try:
        private_mkdir(temp, settings)
    except OSError:
        pass  # a read-only deployment: DuckDB only needs it when it spills
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = {_literal(config['memory_limit'])}")
    con.execute(f"SET threads = {int(config['threads'])}")
    con.execute(f"SET temp_directory = {_literal(str(temp))}")
    # No terminal watches a pipeline step: DuckDB's progress bar (drawn once a query runs past
    # 2 s) would land in the step's stdout, in the run's logs and in what a parent process parses.
    con.execute("SET enable_progress_bar = false")


def dbt_duckdb_env(settings) -> dict[str, str]:
    """The env vars dbt_project/profiles.yml reads for dbt's DuckDB session settings."""
    config = settings.duckdb_config()
    return {
        "DBT_DUCKDB_MEMORY_LIMIT": config["memory_limit"],
        "DBT_DUCKDB_THREADS": config["threads"],
        "DBT_DUCKDB_TEMP_DIRECTORY": config["temp_directory"],
    }


def _settings(settings):
    # Callers without settings at hand (helpers, tools) get the deployment's: env, TOML, defaults.
    if settings is None or not hasattr(settings, "duckdb_config"):
        from pydantic import ValidationError

        from retention_pipeline.settings import load_settings

        try:
            return load_settings()
        except ValidationError:
            # A dbt step exports RETENTION_DBT_TARGET for its profile without the target's URL;
            # DuckDB's own session settings do not depend on the dbt target.
            return load_settings(dbt_target="duckdb")
    return settings


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def replace_day(con: duckdb.DuckDBPyConnection, table: str, as_of, select_sql: str) -> int:
    """Replace the rows of one as-of date in a table kept across days (contact log, customer
    history) by `select_sql` (which may use `$as_of`), in one transaction: a re-run of a day
    never duplicates it and a failure leaves the day as it was. Returns the day's rows."""
    params = {"as_of": as_of}
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where as_of_date = $as_of", params)
        con.execute(f"insert into {table} {select_sql}", params)
        rows = con.execute(
            f"select count(*) from {table} where as_of_date = $as_of", params
        ).fetchone()[0]
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return int(rows)
