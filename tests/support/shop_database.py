"""A shop's own database on the local PostgreSQL or MariaDB, for the source_url tests.

Each `ShopDb` is a database of its own (unique name), dropped afterwards. Its tables have the
column types shops use (TIMESTAMP WITH and WITHOUT time zone, NUMERIC, BOOLEAN, JSON), so that
typing through dlt / SQLAlchemy is exercised, not only text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/{db}",
}
ADMIN_DB = {"postgresql": "test", "mariadb": "mysql"}

# Per dialect: (timestamp with time zone, timestamp without, json, boolean).
TYPES = {
    "postgresql": ("TIMESTAMP(6) WITH TIME ZONE", "TIMESTAMP(6)", "JSONB", "BOOLEAN"),
    # MySQL's TIMESTAMP is stored in UTC and converted by the session zone; DATETIME is naive.
    "mariadb": ("TIMESTAMP(6) NULL DEFAULT NULL", "DATETIME(6)", "JSON", "BOOLEAN"),
}


def ddl(dialect: str) -> list[str]:
    tz, naive, json_type, boolean = TYPES[dialect]
    return [
        f"""CREATE TABLE customers (customer_id VARCHAR(20) PRIMARY KEY, email VARCHAR(100),
            created_at {naive}, accepts_email {boolean}, loyalty_tier VARCHAR(10),
            updated_at {tz})""",
        """CREATE TABLE products (product_id VARCHAR(20) PRIMARY KEY, name VARCHAR(100),
            category VARCHAR(50), price NUMERIC(10, 2))""",
        # No primary key on purpose: a shop's table may hold a row without an id.
        f"""CREATE TABLE orders (order_id VARCHAR(20), customer_id VARCHAR(20),
            ordered_at {tz}, total_amount NUMERIC(12, 2), status VARCHAR(30),
            refunded_amount NUMERIC(12, 2), currency VARCHAR(3), updated_at {naive})""",
        "CREATE INDEX orders_updated_at ON orders (updated_at)",
        """CREATE TABLE order_items (order_id VARCHAR(20), product_id VARCHAR(20),
            quantity INTEGER, unit_price NUMERIC(10, 2))""",
        f"""CREATE TABLE events (event_id VARCHAR(20) PRIMARY KEY, event_type VARCHAR(30),
            occurred_at {tz}, customer_id VARCHAR(20), properties {json_type})""",
    ]


@dataclass
class ShopDb:
    dialect: str
    name: str
    engine: sa.Engine

    @property
    def url(self) -> str:
        return SERVERS[self.dialect].format(db=self.name)

    def insert(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        statement = sa.text(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})"
        )
        with self.engine.begin() as con:
            con.execute(statement, rows)

    def execute(self, sql: str, **params) -> None:
        with self.engine.begin() as con:
            con.execute(sa.text(sql), params)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as con:
            return con.execute(sa.text(sql), params).scalar()


def _utc_session(dialect: str) -> dict:
    if dialect == "postgresql":
        return {"options": "-c TimeZone=UTC", "connect_timeout": 5}
    return {"init_command": "SET time_zone = '+00:00'", "connect_timeout": 5}


def create_shop_db(dialect: str, with_tables: bool = True) -> ShopDb:
    """A new empty database on the local server (skip if it is not reachable)."""
    admin = sa.create_engine(SERVERS[dialect].format(db=ADMIN_DB[dialect]),
                             connect_args=_utc_session(dialect), isolation_level="AUTOCOMMIT")
    name = f"shop_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as con:
            con.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"{dialect} not reachable on 127.0.0.1 ({str(exc).splitlines()[0]})")
    finally:
        admin.dispose()
    engine = sa.create_engine(SERVERS[dialect].format(db=name),
                              connect_args=_utc_session(dialect))
    shop = ShopDb(dialect, name, engine)
    if with_tables:
        for statement in ddl(dialect):
            shop.execute(statement)
    return shop


def drop_shop_db(shop: ShopDb) -> None:
    shop.engine.dispose()
    admin = sa.create_engine(SERVERS[shop.dialect].format(db=ADMIN_DB[shop.dialect]),
                             connect_args=_utc_session(shop.dialect), isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        if shop.dialect == "postgresql":
            con.execute(sa.text(f"DROP DATABASE IF EXISTS {shop.name} WITH (FORCE)"))
        else:
            con.execute(sa.text(f"DROP DATABASE IF EXISTS {shop.name}"))
    admin.dispose()


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
