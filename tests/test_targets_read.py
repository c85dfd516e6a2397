"""Reading a dbt-built table back from each target (retention_pipeline/targets/read.py): the same
rows and usable types from a DuckDB file, a real PostgreSQL database and a Spark lake folder."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pytest

from retention_pipeline.settings import Settings
from retention_pipeline.targets.read import (
    TargetTableMissing,
    distinct_count,
    iter_batches,
    list_tables,
    read_table,
    row_count,
    table_exists,
)
from retention_pipeline.warehouse import connect, open_duckdb
from tests.support.serving_fixtures import fresh_pg_database

ROWS = 2_500  # more than one batch of 1,000 below

# One mart with every kind of column the marts have, an all-null column and a JSON text column.
MART_SQL = """
select
    'c' || lpad(cast(i as varchar), 5, '0') as customer_id,
    cast(i as integer) as occasions,
    cast(i * 1.25 as decimal(18, 4)) as net_revenue,
    i / 7.0 as share,
    i % 2 = 0 as is_even,
    date '2026-11-01' + cast(i % 30 as integer) as first_date,
    timestamp '2026-11-20 08:00:00' + to_seconds(i) as send_at_utc,
    cast(null as varchar) as note,
    '{{"products": ["p' || i || '"]}}' as context
from range({rows}) as t(i)
"""


def _settings(target: str, tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(warehouse=tmp_path / "warehouse.duckdb", dbt_target=target, warehouse_url=url,
                    lake=tmp_path / "lake", duckdb_memory_limit="1GB", duckdb_threads=1)


def _reference(rows: int = ROWS) -> pa.Table:
    con = open_duckdb()
    try:
        return con.sql(MART_SQL.format(rows=rows)).to_arrow_table()
    finally:
        con.close()


def _assert_same_values(got: pa.Table, expected: pa.Table) -> None:
    assert got.column_names == expected.column_names
    assert got.num_rows == expected.num_rows
    got_rows = sorted(got.to_pylist(), key=lambda r: r["customer_id"])
    expected_rows = sorted(expected.to_pylist(), key=lambda r: r["customer_id"])
    for g, e in zip(got_rows, expected_rows, strict=True):
        for name in expected.column_names:
            if isinstance(e[name], float):
                assert float(g[name]) == pytest.approx(e[name], rel=1e-12)
            elif isinstance(g[name], dt.datetime) and g[name].tzinfo is not None:
                assert g[name].replace(tzinfo=None) == e[name]
            else:
                assert g[name] == e[name], name


def _assert_counted_in_the_target(settings, table: str, column: str = "first_date") -> None:
    """Rows and the distinct values of a date column (i % 30 of 2,500 rows: 30 days)."""
    assert row_count(settings, "marts", table) == ROWS
    assert distinct_count(settings, "marts", table, column) == 30


def test_duckdb_reads_the_warehouse_in_bounded_batches(tmp_path):
    settings = _settings("duckdb", tmp_path)
    with connect(settings.warehouse) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.dim_customers as {MART_SQL.format(rows=ROWS)}")
        con.execute("create table marts.empty_mart as select 1::integer as a, 'x' as b limit 0")

    assert list_tables(settings, "marts") == ["dim_customers", "empty_mart"]
    _assert_same_values(read_table(settings, "marts", "dim_customers"), _reference())
    batches = list(iter_batches(settings, "marts", "dim_customers", batch_rows=1_000))
    assert sum(b.num_rows for b in batches) == ROWS
    assert max(b.num_rows for b in batches) <= 1_000 * 2  # DuckDB's vectors round up a little

    subset = read_table(settings, "marts", "dim_customers", ["net_revenue", "customer_id"])
    assert subset.column_names == ["net_revenue", "customer_id"]
    assert subset.schema.field("net_revenue").type == pa.decimal128(18, 4)

    empty = read_table(settings, "marts", "empty_mart")
    assert empty.num_rows == 0 and empty.schema.field("a").type == pa.int32()
    _assert_counted_in_the_target(settings, "dim_customers")
    assert distinct_count(settings, "marts", "empty_mart", "a") == 0
    assert distinct_count(settings, "marts", "no_such_mart", "a") is None


def test_a_missing_table_names_the_target(tmp_path):
    settings = _settings("duckdb", tmp_path)
    with connect(settings.warehouse) as con:
        con.execute("create schema marts")
    assert not table_exists(settings, "marts", "campaign_candidates")
    with pytest.raises(TargetTableMissing, match=r"marts\.campaign_candidates .*'duckdb'"):
        read_table(settings, "marts", "campaign_candidates")


def test_postgres_reads_in_batches_with_catalogue_types(tmp_path):
    with fresh_pg_database() as url:
        import psycopg

        reference = _reference()
        with psycopg.connect(url) as pg:
            pg.execute("create schema marts")
            pg.execute("""
                create table marts.dim_customers (
                    customer_id text, occasions integer, net_revenue numeric(18, 4),
                    share numeric, is_even boolean, first_date date,
                    send_at_utc timestamp, note text, context jsonb)""")
            with pg.cursor().copy("copy marts.dim_customers from stdin") as copy:
                for row in reference.to_pylist():
                    copy.write_row(list(row.values()))
            pg.execute("create table marts.stamped as "
                       "select timestamptz '2026-11-20 09:00:00+01' as at, cast(null as date) as d")
        settings = _settings("postgres", tmp_path, url)

        assert list_tables(settings, "marts") == ["dim_customers", "stamped"]
        got = read_table(settings, "marts", "dim_customers")
        batches = list(iter_batches(settings, "marts", "dim_customers", batch_rows=1_000))
        stamped = read_table(settings, "marts", "stamped")
        _assert_counted_in_the_target(settings, "dim_customers")

    assert [b.num_rows for b in batches] == [1_000, 1_000, 500]
    types = {f.name: f.type for f in got.schema}
    assert types["net_revenue"] == pa.decimal128(18, 4)
    assert types["share"] == pa.float64()  # unbounded numeric
    assert types["note"] == pa.string()  # all null, still typed
    assert types["first_date"] == pa.date32()
    # jsonb comes back as its text (key order as PostgreSQL normalises it), not a parsed object
    assert got.column("context")[0].as_py() == '{"products": ["p0"]}'
    _assert_same_values(got, reference)
    assert got.column("net_revenue")[3].as_py() == decimal.Decimal("3.7500")
    # a timestamptz is read in UTC whatever the server's time zone
    assert stamped.column("at")[0].as_py() == dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    assert stamped.schema.field("d").type == pa.date32()


def test_spark_lake_folders_with_partitions_and_an_empty_table(tmp_path):
    """The layout local Spark gives managed tables: <lake>/warehouse/<schema>.db/<table>/ with
    part files, and `<column>=<value>/` folders for a partitioned table (contact log by day)."""
    settings = _settings("spark", tmp_path)
    schema_folder = tmp_path / "lake" / "warehouse" / "marts.db"
    reference = _reference()
    con = open_duckdb()
    try:
        con.register("reference", reference)
        (schema_folder / "dim_customers").mkdir(parents=True)
        con.execute("copy reference to '{}' (format parquet)".format(
            schema_folder / "dim_customers" / "part-00000-abc.c000.snappy.parquet"))
        con.execute(f"""copy (select customer_id, first_date as as_of_date from reference)
            to '{schema_folder / "contact_log"}' (format parquet, partition_by (as_of_date))""")
        (schema_folder / "empty_log").mkdir()
        (schema_folder / "dim_customers" / "_SUCCESS").touch()
    finally:
        con.close()

    assert list_tables(settings, "marts") == ["contact_log", "dim_customers", "empty_log"]
    _assert_same_values(read_table(settings, "marts", "dim_customers"), reference)
    log = read_table(settings, "marts", "contact_log")
    assert log.num_rows == ROWS
    assert log.schema.field("as_of_date").type == pa.date32()  # the partition folders' value
    _assert_counted_in_the_target(settings, "contact_log", column="as_of_date")
    assert distinct_count(settings, "marts", "empty_log", "as_of_date") == 0
    assert read_table(settings, "marts", "empty_log", ["customer_id"]).num_rows == 0
    assert list_tables(settings, "intermediate") == []
