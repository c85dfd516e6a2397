"""PostgreSQL serving copy: load a fresh schema with COPY, swap it for `marts` in one transaction.

The load runs in one transaction that nobody else sees (a killed run leaves nothing behind). Then,
inside it, the swap: lock the old `marts` tables, rename `marts` away and the new schema to `marts`,
drop the old one, grant the reader role. The locks wait for readers still inside a transaction on
the old tables (a dashboard's REPEATABLE READ, say) only `LOCK_TIMEOUT` at a time: a short wait
keeps readers queued behind the swap from stalling, and stays under PostgreSQL's deadlock_timeout
(1 s) so that it is the swap, never a reader, that gives way when both wait for each other. After a
timeout the swap rolls back to its savepoint, says so in the log and tries again with backoff, up
to `serving_postgres_swap_timeout` seconds in all.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import psycopg
import pyarrow.csv as pacsv
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from retention_pipeline.serving.tables import SCHEMA, Mart, quote

TARGET = "postgres"
APPLICATION_NAME = "retention-serving"
LOCK_TIMEOUT = "500ms"
BATCH_ROWS = 100_000
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.5, 10.0
NEW_PREFIX, OLD_PREFIX = f"{SCHEMA}__new_", f"{SCHEMA}__old_"


class ServingUnavailable(RuntimeError):
    """The PostgreSQL server could not be reached; nothing was changed there."""


@dataclass
class SwapResult:
    attempts: int
    waited_s: float


def endpoint(url: str) -> str:
    """host:port of a PostgreSQL URL, for error messages (never the password)."""
    params = conninfo_to_dict(url)
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"


def connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=10, application_name=APPLICATION_NAME)
    except psycopg.OperationalError as exc:
        raise ServingUnavailable(
            f"PostgreSQL serving database at {endpoint(url)} unreachable: {str(exc).strip()}"
        ) from exc


def publish_postgres(
    con: duckdb.DuckDBPyConnection,
    marts: list[Mart],
    url: str,
    reader_role: str,
    swap_timeout_s: float,
    log: Callable[[str], None],
) -> SwapResult:
    """Copy `marts` (from the warehouse attached to `con`) into PostgreSQL schema `marts`."""
    new_schema = NEW_PREFIX + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
    with connect(url) as pg:
        _ensure_role(pg, reader_role)
        _drop_leftovers(pg)
        with pg.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(new_schema)))
        for mart in marts:
            _load(con, pg, new_schema, mart)
        result = _swap(pg, new_schema, reader_role, swap_timeout_s, log)
        pg.commit()
    return result


def postgres_counts(url: str, names: list[str]) -> dict[str, int]:
    with connect(url) as pg, pg.cursor() as cur:
        counts = {}
        for name in names:
            cur.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(SCHEMA), sql.Identifier(name)))
            counts[name] = cur.fetchone()[0]
        return counts


def _ensure_role(pg: psycopg.Connection, role: str) -> None:
    """The read-only role, created if missing (LOGIN, no password: the DBA sets authentication)."""
    with pg.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    pg.commit()


def _drop_leftovers(pg: psycopg.Connection) -> None:
    """Schemas of a publish that died between its commit steps (normally none: one transaction)."""
    with pg.cursor() as cur:
        cur.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s OR nspname LIKE %s",
            [NEW_PREFIX.replace("_", r"\_") + "%", OLD_PREFIX.replace("_", r"\_") + "%"],
        )
        for (name,) in cur.fetchall():
            cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def _load(con: duckdb.DuckDBPyConnection, pg: psycopg.Connection, schema: str, mart: Mart) -> None:
    copy_table(con, pg, f"w.{SCHEMA}.{quote(mart.name)}", sql.Identifier(schema, mart.name),
               mart.columns)


def copy_table(
    con: duckdb.DuckDBPyConnection,
    pg: psycopg.Connection,
    source: str,
    table: sql.Identifier,
    columns: tuple[tuple[str, str], ...],
) -> None:
    """CREATE TABLE + COPY of DuckDB relation `source`, streamed in Arrow batches as CSV: memory
    stays at one batch. `columns` are (name, DuckDB type) pairs."""
    ddl = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type(duck_type)))
        for name, duck_type in columns
    )
    names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
    selected = ", ".join(_as_copyable(name, t) for name, t in columns)
    options = pacsv.WriteOptions(include_header=False)
    # A cursor of its own: DuckDB 2.0 allows no other work on a connection with an open result.
    with con.cursor() as duck, pg.cursor() as cur:
        reader = duck.sql(f"select {selected} from {source}").to_arrow_reader(batch_size=BATCH_ROWS)
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, ddl))
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, names)) as copy:
            for batch in reader:
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())


def _swap(pg, new_schema: str, role: str, timeout_s: float, log) -> SwapResult:
    started, attempt, backoff = time.monotonic(), 0, FIRST_BACKOFF_S
    while True:
        attempt += 1
        try:
            with pg.transaction():  # a savepoint inside the load's transaction
                _swap_once(pg, new_schema, role)
            waited = time.monotonic() - started
            if attempt > 1:
                log(f"PostgreSQL swap of schema {SCHEMA} done after waiting {waited:.1f} s "
                    f"for readers ({attempt} attempts)")
            return SwapResult(attempt, waited)
        except errors.LockNotAvailable:
            waited = time.monotonic() - started
            if waited + backoff > timeout_s:
                raise TimeoutError(
                    f"PostgreSQL swap of schema {SCHEMA} gave up after waiting {waited:.0f} s "
                    f"(serving_postgres_swap_timeout = {timeout_s:g} s) for readers holding its "
                    "tables; the previously published day stays"
                ) from None
            log(f"PostgreSQL swap waiting: readers hold tables of schema {SCHEMA} "
                f"(attempt {attempt}, waited {waited:.1f} s); retrying in {backoff:.1f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def _swap_once(pg: psycopg.Connection, new_schema: str, role: str) -> None:
    old_schema = OLD_PREFIX + new_schema.removeprefix(NEW_PREFIX)
    ident = sql.Identifier
    with pg.cursor() as cur:
        cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [SCHEMA])
        old_tables = [ident(SCHEMA, name) for (name,) in cur.fetchall()]
        if old_tables:
            # Waits here, in one place, for readers inside a transaction on the old tables.
            cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(old_tables)))
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA])
        if cur.fetchone() is not None:
            cur.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(ident(SCHEMA), ident(old_schema)))
        cur.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(ident(new_schema), ident(SCHEMA)))
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident(old_schema)))
        # Granted after the swap, on exactly the new tables: nothing else.
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident(SCHEMA), ident(role)))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            ident(SCHEMA), ident(role)))


_PG_TYPES = {
    "BOOLEAN": "boolean", "TINYINT": "smallint", "SMALLINT": "smallint", "INTEGER": "integer",
    "BIGINT": "bigint", "UTINYINT": "smallint", "USMALLINT": "integer", "UINTEGER": "bigint",
    "UBIGINT": "numeric", "HUGEINT": "numeric", "UHUGEINT": "numeric", "FLOAT": "real",
    "DOUBLE": "double precision", "VARCHAR": "text", "DATE": "date", "TIME": "time",
    "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "UUID": "uuid",
}


def pg_type(duck_type: str) -> str:
    """The PostgreSQL type of a DuckDB column; nested and exotic types are served as text."""
    if duck_type.startswith("DECIMAL"):
        return duck_type.replace("DECIMAL", "numeric")
    if duck_type.startswith("TIMESTAMP_") or duck_type == "TIMESTAMP_NS":
        return "timestamp"
    return _PG_TYPES.get(duck_type, "text")


def _as_copyable(name: str, duck_type: str) -> str:
    """Columns PostgreSQL gets as text are cast to their DuckDB text form first."""
    if pg_type(duck_type) == "text" and duck_type != "VARCHAR":
        return f"cast({quote(name)} as varchar) as {quote(name)}"
    return quote(name)
