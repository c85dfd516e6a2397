"""The validated raw rows reach the other dbt targets unchanged: PostgreSQL `raw.*` by COPY, the
Spark lake as Parquet partitioned by `_batch_date`. Quarantine and ingest_log stay in DuckDB."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from retention_pipeline.settings import Settings
from retention_pipeline.targets import load_raw_into_target
from retention_pipeline.warehouse import open_duckdb
from tests.support.pipeline import ingest, query, write_csv
from tests.support.serving_fixtures import fresh_pg_database

DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


@pytest.fixture
def warehouse(tmp_path):
    """Two daily batches; day 2 holds a bad order (quarantined) and an order with a quote."""
    landing = tmp_path / "landing"
    write_csv(landing / "customers.csv", "customer_id,email", ["c1,a@example.com", "c2,"])
    write_csv(landing / "orders" / "day1.csv", "order_id,customer_id,ordered_at,total_amount",
              ["o1,c1,2026-03-01T10:00:00Z,10.50"])
    warehouse = tmp_path / "warehouse.duckdb"
    ingest(landing, warehouse, DAY1)
    write_csv(landing / "orders" / "day2.csv",
              "order_id,customer_id,ordered_at,total_amount,coupon_code",
              ['o2,c2,2026-03-02T23:30:00Z,7,"it\'s ""50%"""', "o3,c1,not a date,5,"])
    ingest(landing, warehouse, DAY2)
    return warehouse


def _raw(warehouse, entity: str) -> pd.DataFrame:
    frame = query(warehouse, f"select * from raw.{entity}")
    return frame.sort_values(list(frame.columns[:1])).reset_index(drop=True)


def test_postgres_gets_every_raw_row_and_nothing_else(warehouse):
    assert query(warehouse, "select count(*) as n from raw.quarantine")["n"][0] >= 1
    with fresh_pg_database() as url:
        loaded = load_raw_into_target(Settings(warehouse=warehouse, dbt_target="postgres",
                                               warehouse_url=url))
        import psycopg

        with psycopg.connect(url) as pg, pg.cursor() as cur:
            cur.execute("select table_name from information_schema.tables "
                        "where table_schema = 'raw' order by 1")
            tables = [name for (name,) in cur.fetchall()]
            cur.execute("select * from raw.orders order by order_id")
            names = [c.name for c in cur.description]
            orders = pd.DataFrame(cur.fetchall(), columns=names)
    assert tables == ["customers", "events", "order_items", "orders", "products"]
    expected = _raw(warehouse, "orders")
    assert loaded["orders"] == len(expected) == len(orders) == 2
    assert orders["coupon_code"].tolist() == expected["coupon_code"].tolist()
    assert orders["coupon_code"][1] == "it's \"50%\""
    assert orders["_batch_date"].tolist() == [DAY1, DAY2]
    assert [float(v) for v in orders["total_amount"]] == [10.5, 7.0]


def test_lake_holds_raw_as_parquet_partitioned_by_batch_date(warehouse, tmp_path):
    lake = tmp_path / "lake"
    loaded = load_raw_into_target(Settings(warehouse=warehouse, dbt_target="spark", lake=lake))
    assert loaded["orders"] == 2 and loaded["events"] == 0
    partitions = sorted(p.name for p in (lake / "raw" / "orders").iterdir())
    assert partitions == ["_batch_date=2026-03-01", "_batch_date=2026-03-02"]
    con = open_duckdb()
    try:
        orders = con.execute(
            f"select order_id, coupon_code, _batch_date from read_parquet("
            f"'{lake}/raw/orders/**/*.parquet', hive_partitioning = true) order by order_id"
        ).fetchall()
        # an empty entity still has a schema (one zero-row file)
        events = con.execute(
            f"select count(*) from read_parquet('{lake}/raw/events/**/*.parquet')").fetchone()[0]
    finally:
        con.close()
    assert orders == [("o1", None, DAY1), ("o2", "it's \"50%\"", DAY2)]
    assert events == 0
    # a second load replaces the folders (no duplicated rows)
    load_raw_into_target(Settings(warehouse=warehouse, dbt_target="spark", lake=lake))
    assert sorted(p.name for p in (lake / "raw").iterdir()) == [
        "customers", "events", "order_items", "orders", "products"]
