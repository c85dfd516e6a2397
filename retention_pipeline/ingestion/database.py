"""Reading the five entities from a shop's own database (setting `source_url`) instead of files.

    shop = ShopDatabase.from_settings(settings)
    plans = shop.check()                      # SourceError: unreachable, table/column missing
    staged = shop.read(plans["orders"], since, staging_dir)   # -> a Parquet file of the rows

Each table is read with dlt's `sql_table` (SQLAlchemy underneath: PostgreSQL through psycopg,
MySQL/MariaDB through pymysql) and `dlt.sources.incremental` on its cursor column: rows whose
`updated_at` (else the entity's own timestamp) is at or after `since`. The rows, typed by the
database, are written to one Parquet file per table with the contract's column names, which
then goes through exactly the path of a landing Parquet file (load.ingest_staged): typing, row
rules, quarantine, duplicates and versions, lineage `db:<table>`.

dlt's own state is not used: the cursor must commit with the rows in the warehouse, in one
DuckDB transaction (source_cursor.py), and dlt commits its state with its own pipeline's load.
The resource is iterated directly and `since` comes from raw.ingest_log.

Sessions are pinned to UTC, so that TIMESTAMP WITH TIME ZONE (PostgreSQL) and TIMESTAMP (MySQL)
come back in UTC and naive timestamps are read as UTC, as the landing contract says.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # before dlt is imported

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from retention_pipeline.ingestion.errors import LandingError
from retention_pipeline.ingestion.landing import LandingFile, file_stat
from retention_pipeline.ingestion.schema import (
    ENTITIES,
    REQUIRED_ENTITIES,
    schema_for,
)
from retention_pipeline.ingestion.source_cursor import (
    advanced,
    last_cursor,
    window_start,
)
from retention_pipeline.redact import redact_url
from retention_pipeline.settings import SOURCE_PASSWORD_ENV, SourceTable

CHUNK_ROWS = 50_000  # rows per fetch and Parquet row group: bounded memory for any table size
CONNECT_TIMEOUT_S = 10
# The column an incremental read follows, in order of preference (contract names).
CURSOR_CANDIDATES = {
    "customers": ("updated_at", "created_at"),
    "products": ("updated_at",),  # no timestamp of its own: a small table, read whole
    "orders": ("updated_at", "ordered_at"),
    "order_items": ("updated_at",),  # else: the lines of the orders read (see _items_by_order)
    "events": ("updated_at", "occurred_at"),
}
_JOINED_CURSOR = "_retention_order_cursor"


class SourceError(LandingError):
    """The shop database cannot be read as the contract needs: the run stops before writing."""

    def __init__(self, message: str, *, host: str, table: str | None = None,
                 column: str | None = None) -> None:
        where = f"table {table}: " if table else ""
        super().__init__(redact_url(f"shop database {host}: {where}{message}"), column=column)
        self.host, self.table = host, table


@dataclass(frozen=True)
class TablePlan:
    """How one entity is read: the shop's table, its columns under contract names, the cursor."""

    entity: str
    table: str
    columns: dict[str, str]  # contract name -> shop column, for the columns the table has
    extras: tuple[str, ...]  # the table's other columns: kept in `_extra` under their own names
    cursor: str | None  # shop column the incremental read follows; None: read whole
    cursor_tz: bool = False  # the cursor column is TIMESTAMP WITH TIME ZONE
    # order_items without a stamp of their own: (orders table, its order id, its cursor, tz)
    by_order: tuple[str, str, str, bool] | None = None

    @property
    def source_file(self) -> str:
        return f"db:{self.table}"


@dataclass(frozen=True)
class StagedRead:
    plan: TablePlan
    file: LandingFile  # the Parquet file, named `db:<table>` for lineage
    rows: int
    cursor_max: dt.datetime | None  # highest cursor value read (naive UTC); None: none read


@dataclass
class ShopDatabase:
    url: str
    mapping: dict[str, SourceTable] = field(default_factory=dict)
    password: str | None = None
    _engine: sa.Engine | None = None

    @classmethod
    def from_settings(cls, settings) -> ShopDatabase:
        return cls(settings.source_url, dict(settings.source_mapping),
                   os.environ.get(SOURCE_PASSWORD_ENV) or None)

    @property
    def host(self) -> str:
        """host:port/database of the URL, for messages (never the password)."""
        try:
            url = sa.make_url(self.url)
        except (sa.exc.ArgumentError, ValueError):
            return redact_url(self.url)
        port = f":{url.port}" if url.port else ""
        return f"{url.host or 'localhost'}{port}/{url.database or ''}"

    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = _create_engine(self.url, self.password, self.host)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- structure --------------------------------------------------------------------------

    def check(self) -> dict[str, TablePlan]:
        """A plan for every entity the database has; SourceError if it cannot be reached, a
        required table is missing, or a table lacks a required column."""
        try:
            inspector = sa.inspect(self.engine())
            tables = {name.lower(): name for name in inspector.get_table_names()}
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"cannot connect: {_first_line(exc)}", host=self.host,
                              table=self._table_name("customers")) from None
        plans: dict[str, TablePlan] = {}
        for entity in ENTITIES:
            name = tables.get(self._table_name(entity).lower())
            if name is None:
                if entity in REQUIRED_ENTITIES:
                    raise SourceError(f"missing table {self._table_name(entity)!r} (the "
                                      f"{entity} entity)", host=self.host,
                                      table=self._table_name(entity))
                continue
            columns = {c["name"]: c["type"] for c in inspector.get_columns(name)}
            plans[entity] = self._plan(entity, name, columns)
        if "order_items" in plans and plans["order_items"].cursor is None:
            plans["order_items"] = _items_by_order(plans["order_items"], plans["orders"])
        return plans

    def _table_name(self, entity: str) -> str:
        mapped = self.mapping.get(entity)
        return (mapped.table if mapped and mapped.table else entity)

    def _plan(self, entity: str, table: str, types: dict[str, sa.types.TypeEngine]) -> TablePlan:
        mapped = self.mapping.get(entity, SourceTable())
        by_lower = {name.lower(): name for name in types}
        known = (*schema_for(entity).column_names, "updated_at")
        for contract, shop in mapped.columns.items():
            # A mapping that names nothing is a typo, not an absent optional column.
            if contract not in known:
                raise SourceError(f"source_mapping names {contract!r}, not a column of "
                                  f"{entity} ({', '.join(known)})", host=self.host, table=table,
                                  column=contract)
            if shop.lower() not in by_lower:
                raise SourceError(f"source_mapping maps {contract!r} to column {shop!r}, which "
                                  f"the table lacks (columns found: {', '.join(types)})",
                                  host=self.host, table=table, column=shop)
        columns: dict[str, str] = {}
        for contract in known:
            shop = mapped.columns.get(contract, contract)
            if shop.lower() in by_lower:
                columns[contract] = by_lower[shop.lower()]
        for required in schema_for(entity).required_columns:
            if required not in columns:
                shop = mapped.columns.get(required, required)
                raise SourceError(
                    f"missing required column {shop!r} (contract column {required!r}; columns "
                    f"found: {', '.join(types)})", host=self.host, table=table, column=shop)
        extras = tuple(n for n in types if n not in columns.values()
                       and n.lower() not in schema_for(entity).column_names)
        cursor = next((columns[c] for c in CURSOR_CANDIDATES[entity] if c in columns), None)
        return TablePlan(entity, table, columns, extras, cursor,
                         cursor_tz=cursor is not None and _has_tz(types[cursor]))

    # --- rows -------------------------------------------------------------------------------

    def read(self, plan: TablePlan, since: dt.datetime | None, staging: Path) -> StagedRead:
        """The rows of `plan.table` from `since` (naive UTC; None: all) into a Parquet file."""
        path = staging / f"{plan.entity}.parquet"
        path.unlink(missing_ok=True)
        rename = {shop: contract for contract, shop in plan.columns.items()}
        writer: pq.ParquetWriter | None = None
        rows, cursor_max = 0, None
        try:
            for batch in self._batches(plan, since):
                batch_max = _max_naive_utc(batch, _JOINED_CURSOR if plan.by_order else plan.cursor)
                if batch_max is not None and (cursor_max is None or batch_max > cursor_max):
                    cursor_max = batch_max
                # Only the planned columns: a shop column that has a contract name but is not the
                # one mapped to it would collide with the renamed one.
                batch = batch.select([n for n in batch.column_names
                                      if n in rename or n in plan.extras])
                batch = batch.rename_columns([rename.get(n, n) for n in batch.column_names])
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema)
                writer.write_table(batch.cast(writer.schema))
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # nothing new: an empty file with the columns, read as zero rows
            names = [*plan.columns, *plan.extras]
            pq.write_table(pa.table({n: pa.array([], pa.string()) for n in names}), path)
        size, mtime = file_stat(path)
        file = LandingFile(plan.entity, path, plan.source_file, "parquet", size, mtime)
        return StagedRead(plan, file, rows, cursor_max)

    def _batches(self, plan: TablePlan, since: dt.datetime | None):
        import dlt
        from dlt.sources.sql_database import sql_table

        incremental = None
        if plan.cursor is not None and not plan.by_order:
            start = since.replace(tzinfo=dt.UTC) if since and plan.cursor_tz else since
            # primary_key=(): no boundary de-duplication by dlt; a row read twice is a duplicate
            # in raw. Rows without a stamp are read every time rather than never.
            incremental = dlt.sources.incremental(
                plan.cursor, initial_value=start, primary_key=(),
                on_cursor_value_missing="include")
        resource = sql_table(
            self.engine(), table=plan.table, backend="pyarrow", chunk_size=CHUNK_ROWS,
            incremental=incremental, query_adapter_callback=_select(plan, since),
            type_adapter_callback=lambda t: sa.Text() if _read_as_text(t) else t,
            reflection_level="full_with_precision",
        )
        try:
            for item in resource:
                if isinstance(item, pa.Table) and item.num_rows:
                    yield item
        except Exception as exc:  # noqa: BLE001 - dlt wraps the driver's error: name host, table
            cause = exc
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__
            raise SourceError(f"reading failed: {_first_line(cause)}", host=self.host,
                              table=plan.table) from None


def ingest_from_database(
    con,
    shop: ShopDatabase,
    entity: str,
    batch_date: dt.date,
    *,
    staging: Path,
    lag: dt.timedelta,
    now: dt.datetime | None = None,
    progress=None,
):
    """Read `entity`'s new rows from the shop database and load them like a landing file.

    Every table is checked first, so a broken one stops the run before its first write. The
    read starts `lag` before the table's cursor; the cursor advances in the transaction that
    writes the rows. Returns IngestStats, or None when the database has no such (optional) table.
    `progress` gets ingest_entity's lines, and one when the read is staged.
    """
    from retention_pipeline.files import private_mkdir
    from retention_pipeline.ingestion.load import ingest_staged

    plan = shop.check().get(entity)
    if plan is None:
        return None
    previous = last_cursor(con, entity, plan.source_file)
    private_mkdir(staging)
    read_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    staged = shop.read(plan, window_start(previous, lag), staging)
    if progress is not None:
        progress(f"{entity}: {staged.rows:,} new or changed rows read from the shop database")
    # Never beyond the time of the read: one row stamped in the future (a typo, a clock, local
    # time stored as UTC) must not move the cursor past the rows still to come.
    read_max = None if staged.cursor_max is None else min(staged.cursor_max, read_at)
    try:
        return ingest_staged(con, staged.file, batch_date, log_format="database",
                             cursor=advanced(previous, read_max), now=now, progress=progress)
    finally:
        staged.file.path.unlink(missing_ok=True)


# --- helpers -------------------------------------------------------------------------------------


def _create_engine(url: str, password: str | None, host: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise SourceError(f"not an SQLAlchemy URL: {exc}", host=host) from None
    if password is not None:
        parsed = parsed.set(password=password)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        # Keeps the URL's own options (e.g. ?options=-csearch_path%3Dshop for a schema).
        options = " ".join(filter(None, [parsed.query.get("options"), "-c TimeZone=UTC"]))
        args = {"options": options, "connect_timeout": CONNECT_TIMEOUT_S}
    elif backend in ("mysql", "mariadb"):
        args = {"init_command": "SET time_zone = '+00:00'", "connect_timeout": CONNECT_TIMEOUT_S}
    else:
        raise SourceError(f"unsupported database {backend!r} (PostgreSQL, MySQL or MariaDB)",
                          host=host)
    return sa.create_engine(parsed, connect_args=args, pool_pre_ping=True)


def _items_by_order(items: TablePlan, orders: TablePlan) -> TablePlan:
    """order_items without a stamp follow their order's: the lines of every order read again
    (an order's lines are replaced as a set, see duplicates.py)."""
    if orders.cursor is None:
        return items
    return TablePlan(items.entity, items.table, items.columns, items.extras, None,
                     by_order=(orders.table, orders.columns["order_id"], orders.cursor,
                               orders.cursor_tz))


def _select(plan: TablePlan, since: dt.datetime | None):
    """dlt's query, with JSON and unbounded NUMERIC columns read as text (Arrow has no type for
    them), and for order_items that follow their orders, the join to the orders' stamp."""

    def adapter(query, table):
        columns = [sa.cast(c, sa.Text).label(c.name) if _read_as_text(c.type) else c
                   for c in table.columns]
        if not plan.by_order:
            return query.with_only_columns(*columns)
        orders_table, order_key, cursor, tz = plan.by_order
        orders = sa.Table(orders_table, sa.MetaData(), sa.Column(order_key), sa.Column(cursor))
        joined = sa.select(*columns, orders.c[cursor].label(_JOINED_CURSOR)).select_from(
            table.join(orders, table.c[plan.columns["order_id"]] == orders.c[order_key]))
        if since is None:
            return joined
        start = since.replace(tzinfo=dt.UTC) if tz else since
        return joined.where(sa.or_(orders.c[cursor] >= start, orders.c[cursor].is_(None)))

    return adapter


def _read_as_text(sql_type: sa.types.TypeEngine) -> bool:
    if isinstance(sql_type, sa.JSON):
        return True
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        return sql_type.precision is None or sql_type.precision > 38
    return False


def _max_naive_utc(batch: pa.Table, column: str | None) -> dt.datetime | None:
    if column is None or column not in batch.column_names:
        return None
    value = pc.max(batch.column(column)).as_py()
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _has_tz(sql_type: sa.types.TypeEngine) -> bool:
    return bool(getattr(sql_type, "timezone", False))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return redact_url(text[0] if text else type(exc).__name__)
