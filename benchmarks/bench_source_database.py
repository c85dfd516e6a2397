"""Benchmark: reading orders and customers from a shop's PostgreSQL (setting source_url).

Creates a database of its own on the local PostgreSQL (127.0.0.1:5432, user postgres; skipped
when unreachable) with N orders and N/10 customers, then times (1) the first load of both tables
and (2) a daily increment of 10,000 new orders and 1,000 refunds (with the default 1 h lag).
Each time covers the whole path: dlt read -> staged Parquet -> typing, checks, duplicates ->
raw tables and ingest_log.

    .venv/bin/python benchmarks/bench_source_database.py [--orders 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from retention_pipeline.ingestion.database import ShopDatabase, ingest_from_database
from retention_pipeline.warehouse import connect

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
START = dt.datetime(2024, 1, 1)
STEP_S = 50  # seconds between two orders


def populate(engine: sa.Engine, orders: int) -> None:
    with engine.begin() as con:
        con.execute(sa.text(f"""
            CREATE TABLE customers AS
            SELECT 'C' || g AS customer_id, 'c' || g || '@example.com' AS email,
                   timestamp '2023-06-01' + g * interval '1 minute' AS created_at,
                   g % 2 = 0 AS accepts_email,
                   timestamptz '2023-06-01 00:00Z' + g * interval '1 minute' AS updated_at
            FROM generate_series(0, {orders // 10 - 1}) g"""))
        con.execute(sa.text(f"""
            CREATE TABLE orders AS
            SELECT 'O' || g AS order_id, 'C' || (g % {orders // 10}) AS customer_id,
                   timestamptz '2024-01-01 00:00Z' + g * interval '{STEP_S} seconds' AS ordered_at,
                   (10 + g % 90)::numeric(12, 2) AS total_amount, 'paid' AS status,
                   NULL::numeric(12, 2) AS refunded_amount, 'EUR' AS currency,
                   timestamp '2024-01-01' + g * interval '{STEP_S} seconds' AS updated_at
            FROM generate_series(1, {orders}) g"""))
        con.execute(sa.text("CREATE INDEX orders_updated_at ON orders (updated_at)"))
        con.execute(sa.text("CREATE INDEX customers_updated_at ON customers (updated_at)"))
        con.execute(sa.text("ANALYZE"))


def next_day(engine: sa.Engine, orders: int, last: dt.datetime) -> None:
    with engine.begin() as con:
        con.execute(sa.text(f"""
            INSERT INTO orders
            SELECT 'O' || g, 'C' || (g % {orders // 10}),
                   timestamptz '{last.isoformat()}Z' + (g - {orders}) * interval '8 seconds',
                   (10 + g % 90)::numeric(12, 2), 'paid', NULL, 'EUR',
                   timestamp '{last.isoformat()}' + (g - {orders}) * interval '8 seconds'
            FROM generate_series({orders + 1}, {orders + 10_000}) g"""))
        con.execute(sa.text(f"""
            UPDATE orders SET status = 'refunded', refunded_amount = total_amount,
                   updated_at = timestamp '{last.isoformat()}' + interval '2 hours'
            WHERE order_id IN (SELECT 'O' || g FROM generate_series(1, {orders}, {orders // 1000}) g)
        """))


def timed_day(shop: ShopDatabase, warehouse: Path, day: dt.date) -> tuple[float, dict]:
    started = time.perf_counter()
    with connect(warehouse) as con:
        stats = {e: ingest_from_database(con, shop, e, day, staging=warehouse.parent / "stg",
                                         lag=dt.timedelta(hours=1),
                                         now=dt.datetime.combine(day, dt.time(23)))
                 for e in ("customers", "orders")}
    return time.perf_counter() - started, stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    args = parser.parse_args()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(SERVER.format(db="test"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as con:
            con.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        print(f"skipped: PostgreSQL not reachable ({str(exc).splitlines()[0]})")
        return
    engine = sa.create_engine(SERVER.format(db=name))
    try:
        populate(engine, args.orders)
        last = START + dt.timedelta(seconds=STEP_S * args.orders)
        shop = ShopDatabase(SERVER.format(db=name))
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Path(tmp) / "warehouse.duckdb"
            seconds, stats = timed_day(shop, warehouse, last.date())
            print(f"first load: {args.orders:,} orders + {args.orders // 10:,} customers in "
                  f"{seconds:.1f} s ({stats['orders'].rows_loaded:,} orders loaded)")
            next_day(engine, args.orders, last)
            seconds, stats = timed_day(shop, warehouse, last.date() + dt.timedelta(days=1))
            o = stats["orders"]
            print(f"daily increment: read {o.rows_read:,} orders (loaded {o.rows_loaded:,}, "
                  f"duplicate {o.rows_duplicate:,}) + {stats['customers'].rows_read:,} customers "
                  f"in {seconds:.1f} s")
        shop.close()
    finally:
        engine.dispose()
        with admin.connect() as con:
            con.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
