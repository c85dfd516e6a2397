"""Reading a table that dbt built, from whichever engine the setting `dbt_target` names.

The Python steps after dbt (prediction fits, exports, checks, charts, serving) read marts through
here, never through a connection of their own, so they work the same on every target:

- duckdb: the warehouse file, opened read-only (no dbt process is writing while a step runs);
- postgres: `warehouse_url`, a server-side cursor read in batches (bounded memory), in a UTC
  session, with Arrow types taken from the catalogue so that an all-null column keeps its type;
- spark: the table's Parquet folder in the lake's warehouse (`<lake>/warehouse/<schema>.db/<table>`,
  where local Spark keeps managed tables), read by DuckDB; partition folders become columns.

Everything comes back as Arrow (`pyarrow.Table` or record batches), the one format pandas, DuckDB
and the writers all take without copying.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from retention_pipeline.serving.tables import quote, sql_path

BATCH_ROWS = 100_000


class TargetTableMissing(LookupError):
    """The table is not (yet) in the dbt target."""


def read_table(settings, schema: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """Every row of `<schema>.<table>` in the dbt target (only `columns`, in that order, if given)."""
    batches = list(iter_batches(settings, schema, table, columns))
    if batches:
        return pa.Table.from_batches(batches)
    return _empty_table(settings, schema, table, columns)


def iter_batches(
    settings, schema: str, table: str, columns: list[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The table's rows as Arrow record batches of at most `batch_rows` rows (a table of any size
    in bounded memory). Raises TargetTableMissing naming the target when there is no such table."""
    if not table_exists(settings, schema, table):
        raise TargetTableMissing(
            f"{schema}.{table} is not in the dbt target {describe(settings)}: "
            "has the dbt build that makes it run?"
        )
    reader = {"duckdb": _duckdb_batches, "postgres": _postgres_batches, "spark": _spark_batches}
    yield from reader[settings.dbt_target](settings, schema, table, columns, batch_rows)


def row_count(settings, schema: str, table: str) -> int | None:
    """Rows of the table in the dbt target, counted there (None when there is no such table)."""
    return _count(settings, schema, table, "count(*)")


def distinct_count(settings, schema: str, table: str, column: str) -> int | None:
    """Distinct non-null values of `column`, counted in the target (None when there is no such
    table): a history table of a million customers a day is never read into Python for it."""
    return _count(settings, schema, table, f"count(distinct {quote(column)})")


def _count(settings, schema: str, table: str, aggregate: str) -> int | None:
    if not table_exists(settings, schema, table):
        return None
    if settings.dbt_target == "spark":
        relation = _spark_relation(settings, schema, table)
        if relation is None:
            return 0
        with _in_memory(settings) as con:
            return int(con.execute(f"select {aggregate} from {relation}").fetchone()[0])
    count = f"select {aggregate} from {quote(schema)}.{quote(table)}"
    if settings.dbt_target == "postgres":
        with _postgres(settings) as pg:
            return int(pg.execute(count).fetchone()[0])
    with _duckdb_warehouse(settings) as con:
        return int(con.execute(count).fetchone()[0])


def table_exists(settings, schema: str, table: str) -> bool:
    return table in list_tables(settings, schema)


def list_tables(settings, schema: str) -> list[str]:
    """The tables (and views) of `schema` in the dbt target, sorted by name."""
    if settings.dbt_target == "spark":
        folder = _spark_schema_folder(settings, schema)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.is_dir() and not p.name.startswith((".", "_")))
    query = ("select table_name from information_schema.tables where table_schema = {p} "
             "order by table_name")
    if settings.dbt_target == "postgres":
        with _postgres(settings) as pg:
            return [name for (name,) in pg.execute(query.format(p="%s"), [schema]).fetchall()]
    if not Path(settings.warehouse).exists():
        return []
    with _duckdb_warehouse(settings) as con:
        return [name for (name,) in con.execute(query.format(p="?"), [schema]).fetchall()]


def describe(settings) -> str:
    """Which target, for messages (never a password: warehouse_url holds none)."""
    where = {"duckdb": settings.warehouse, "postgres": settings.warehouse_url,
             "spark": Path(settings.lake)}[settings.dbt_target]
    return f"'{settings.dbt_target}' ({where})"


# --- duckdb ----------------------------------------------------------------------------------


def _duckdb_warehouse(settings):
    from retention_pipeline.warehouse import connect

    return connect(settings.warehouse, read_only=True, settings=settings)


def _duckdb_batches(settings, schema, table, columns, batch_rows):
    with _duckdb_warehouse(settings) as con:
        relation = con.sql(f"select {_column_list(columns)} from {quote(schema)}.{quote(table)}")
        yield from _from_reader(relation.to_arrow_reader(batch_size=batch_rows))


def _from_reader(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        if batch.num_rows:
            yield batch


# --- postgres --------------------------------------------------------------------------------


def _postgres(settings):
    import psycopg

    from retention_pipeline.serving.postgres import endpoint

    try:
        pg = psycopg.connect(settings.warehouse_url, connect_timeout=10,
                             application_name="retention-read")
    except psycopg.OperationalError as exc:
        raise ConnectionError(
            f"dbt target PostgreSQL at {endpoint(settings.warehouse_url)} unreachable: "
            f"{str(exc).strip()}"
        ) from exc
    pg.execute("SET TIME ZONE 'UTC'")
    return pg


def _postgres_batches(settings, schema, table, columns, batch_rows):
    with _postgres(settings) as pg:
        fields = _postgres_fields(pg, schema, table, columns)
        selected = ", ".join(_postgres_select(name, kind) for name, kind, _ in fields)
        arrow_schema = pa.schema([(name, arrow_type) for name, _, arrow_type in fields])
        # A named (server-side) cursor: the server sends batch by batch, never the whole table.
        with pg.cursor(name=f"read_{uuid.uuid4().hex[:12]}") as cur:
            cur.execute(f"select {selected} from {quote(schema)}.{quote(table)}")
            while rows := cur.fetchmany(batch_rows):
                yield _postgres_batch(rows, fields, arrow_schema)


def _postgres_fields(pg, schema, table, columns) -> list[tuple[str, str, pa.DataType]]:
    described = pg.execute(
        "select column_name, data_type, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position", [schema, table],
    ).fetchall()
    by_name = {name: (name, kind, _postgres_arrow_type(kind, precision, scale))
               for name, kind, precision, scale in described}
    if columns is None:
        return list(by_name.values())
    missing = [c for c in columns if c not in by_name]
    if missing:
        raise KeyError(f"{schema}.{table} has no column(s) {missing}")
    return [by_name[c] for c in columns]


_POSTGRES_TYPES = {
    "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
    "real": pa.float32(), "double precision": pa.float64(), "boolean": pa.bool_(),
    "date": pa.date32(), "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
}


def _postgres_arrow_type(kind: str, precision, scale) -> pa.DataType:
    if kind == "numeric":
        # An unbounded numeric (what sums and ratios give) has no Arrow decimal: a double.
        # Arrow decimals stop at 38 digits.
        return pa.decimal128(precision, scale) if precision and precision <= 38 else pa.float64()
    return _POSTGRES_TYPES.get(kind, pa.string())


def _postgres_select(name: str, kind: str) -> str:
    # json (parsed by the driver otherwise), intervals and anything unmapped come as their text.
    if kind == "numeric" or kind in _POSTGRES_TYPES or kind in ("text", "character varying"):
        return quote(name)
    return f"cast({quote(name)} as text) as {quote(name)}"


def _postgres_batch(rows, fields, arrow_schema) -> pa.RecordBatch:
    arrays = []
    for index, (_, _, arrow_type) in enumerate(fields):
        values = [row[index] for row in rows]
        if pa.types.is_floating(arrow_type):
            values = [None if v is None else float(v) for v in values]
        arrays.append(pa.array(values, type=arrow_type))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


# --- spark -----------------------------------------------------------------------------------


def _spark_schema_folder(settings, schema: str) -> Path:
    return Path(settings.lake).resolve() / "warehouse" / f"{schema}.db"


def _spark_batches(settings, schema, table, columns, batch_rows):
    relation = _spark_relation(settings, schema, table)
    if relation is None:
        return  # Spark wrote no file (a partitioned table without partitions): no rows
    with _in_memory(settings) as con:
        selected = con.sql(f"select {_column_list(columns)} from {relation}")
        yield from _from_reader(selected.to_arrow_reader(batch_size=batch_rows))


def _spark_relation(settings, schema: str, table: str) -> str | None:
    """The table's Parquet files as a DuckDB relation; None when the folder holds none."""
    folder = _spark_schema_folder(settings, schema) / table
    if not any(folder.rglob("*.parquet")):
        return None
    return (f"read_parquet('{sql_path(folder)}/**/*.parquet', hive_partitioning = true, "
            "union_by_name = true)")


@contextmanager
def _in_memory(settings):
    from retention_pipeline.warehouse import open_duckdb

    con = open_duckdb(settings=settings)
    try:
        yield con
    finally:
        con.close()


# --- shared ----------------------------------------------------------------------------------


def _column_list(columns: list[str] | None) -> str:
    return "*" if columns is None else ", ".join(quote(c) for c in columns)


def _empty_table(settings, schema, table, columns) -> pa.Table:
    """The table's columns with no rows (its types where the target keeps them without rows)."""
    if settings.dbt_target == "duckdb":
        with _duckdb_warehouse(settings) as con:
            return con.sql(
                f"select {_column_list(columns)} from {quote(schema)}.{quote(table)} limit 0"
            ).to_arrow_table()
    if settings.dbt_target == "postgres":
        with _postgres(settings) as pg:
            fields = _postgres_fields(pg, schema, table, columns)
        return pa.schema([(name, t) for name, _, t in fields]).empty_table()
    relation = _spark_relation(settings, schema, table)
    if relation is not None:  # an empty table still has a file with its schema
        with _in_memory(settings) as con:
            return con.sql(
                f"select {_column_list(columns)} from {relation} limit 0").to_arrow_table()
    # A partitioned table without partitions has no file: its types are only in the metastore.
    return pa.schema([(c, pa.string()) for c in columns or []]).empty_table()
