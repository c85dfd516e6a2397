"""A small hand-made warehouse for the serving tests: two marts that carry their as-of date."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from retention_pipeline.warehouse import connect

PERSONAL = frozenset({"email", "first_name"})
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def write_day(warehouse: Path, as_of: dt.date, customers: int = 50) -> None:
    """marts.dim_customers (with personal columns) and marts.cohort_retention for `as_of`;
    a later day has more rows, so that a mix of two days shows in the counts too."""
    n = customers + (as_of - dt.date(2026, 1, 1)).days
    with connect(warehouse) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.dim_customers as select "
            "'c' || i as customer_id, 'x' || i || '@example.com' as email, "
            "'Name' || i as first_name, cast(? as date) as as_of_date, i * 1.5 as net_revenue, "
            "case when i % 7 = 0 then '' end as note "
            "from range(?) t(i)", [as_of, n],
        )
        con.execute(
            "create or replace table marts.cohort_retention as select "
            "cast(? as date) as as_of_date, i as period_index, 0.5 as retention_rate "
            "from range(?) t(i)", [as_of, n // 2],
        )


def pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A database of its own on the local PostgreSQL (dropped after), as a URL."""
    import psycopg

    if not pg_available():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432 (user postgres, db test)")
    name = f"serving_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
