"""What each landing entity holds (docs/metrics.md#inputs) and how it is typed in the raw layer
(docs/design.md).

Also the fixed limits and vocabularies the row rules use, so that they are defined once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# Landing entities, in the order a run loads them (customers before orders, so that the
# unknown-customer count of orders sees the day's new customers).
ENTITIES = ("customers", "products", "orders", "order_items", "events")
REQUIRED_ENTITIES = ("customers", "orders")

# Above these a value is a typo or a unit error (cents sent as units, an id in a quantity column),
# not a real order: the row goes to quarantine as `absurd_value`.
AMOUNT_LIMIT = 1_000_000_000  # total/discount/refunded amount, price, unit price
QUANTITY_LIMIT = 1_000_000  # units on one order line

# ordered_at / occurred_at before this are an epoch default or a parse error (`absurd_value`): an
# online order from the 1980s would open a bogus ancient cohort.
EARLIEST_TIMESTAMP = dt.datetime(1990, 1, 1)

# ordered_at / occurred_at later than this after the run's reference end are `future_timestamp`.
# One day of slack covers every reporting time zone (the raw layer does not know which one is used).
FUTURE_TOLERANCE = dt.timedelta(days=1)

ORDER_STATUSES = (
    "placed",
    "paid",
    "shipped",
    "completed",
    "cancelled",
    "refunded",
    "partially_refunded",
    "test",
)
EVENT_TYPES = (
    "session_start",
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "search",
    "support_ticket",
    "complaint",
    "return_requested",
    "review",
    "message_open",
    "message_click",
    "unsubscribe",
)

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

Kind = Literal[
    "id",  # trimmed text, empty = null; part of a key
    "text",  # text as sent, empty = null
    "lower_text",  # trimmed, lower-cased text, empty = null (order status)
    "timestamp",  # ISO 8601, offset applied, stored naive UTC
    "date",
    "decimal",  # DECIMAL(18,4) money
    "integer",  # whole number (quantity)
    "boolean",
    "json_object",  # a JSON object (or nothing)
]

SQL_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "lower_text": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "decimal": "DECIMAL(18,4)",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "json_object": "JSON",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"
    required: bool = False  # the file must have this column (a required column)
    not_empty: bool = False  # an empty value is `missing_key` (ids, required values)
    # when something happened: before EARLIEST_TIMESTAMP is `absurd_value`, after the cutoff
    # `future_timestamp`
    plausible_time: bool = False
    negative_reason: str | None = None  # code for a value below zero
    # An optional value whose bad content is nulled, the row kept (a `field` record in
    # raw.quarantine): one bad birthday must not lose the customer. Not for ids, required values,
    # version stamps or money, whose null would change what a row means.
    field_level: bool = False
    # Columns this time must not precede (a delivery before its order is a typo or a clock error,
    # and would give a negative delivery time): the row goes to quarantine as
    # `delivery_before_order`.
    not_before: tuple[str, ...] = ()

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class EntitySchema:
    name: str
    columns: tuple[Column, ...]
    # SQL expressions over a table alias `{a}` that identify one row's id (one version per key
    # and `version` stamp).
    key: tuple[str, ...]
    # The column that orders versions of the same key (docs/metrics.md#inputs: a later updated_at
    # replaces).
    version: str | None = None
    # order_items has no version stamp: an order's lines are replaced as a set by a later file
    # (see stg_shop__order_items), so duplicates against raw are judged per order, not per line.
    replaced_per: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def key_sql(self, alias: str) -> list[str]:
        return [k.format(a=alias) for k in self.key]


def _amount(name: str, **kwargs) -> Column:
    return Column(name, "decimal", negative_reason="negative_amount", **kwargs)


SCHEMAS: dict[str, EntitySchema] = {
    "customers": EntitySchema(
        "customers",
        (
            Column("customer_id", "id", required=True, not_empty=True),
            Column("created_at", "timestamp", field_level=True),
            Column("email"),
            Column("phone"),
            Column("first_name"),
            Column("birthday", "date", field_level=True),
            Column("gender"),
            Column("country"),
            Column("language"),
            Column("timezone"),
            Column("acquisition_channel"),
            Column("accepts_email", "boolean", field_level=True),
            Column("accepts_sms", "boolean", field_level=True),
            Column("accepts_push", "boolean", field_level=True),
            Column("accepts_wechat", "boolean", field_level=True),
            Column("wechat_openid"),
            Column("push_token"),
            Column("updated_at", "timestamp"),
        ),
        key=("{a}.customer_id",),
        version="updated_at",
    ),
    "products": EntitySchema(
        "products",
        (
            Column("product_id", "id", required=True, not_empty=True),
            Column("name"),
            Column("category"),
            _amount("price"),
            Column("launched_at", "timestamp", field_level=True),
            Column("updated_at", "timestamp"),
        ),
        key=("{a}.product_id",),
        version="updated_at",
    ),
    "orders": EntitySchema(
        "orders",
        (
            Column("order_id", "id", required=True, not_empty=True),
            Column("customer_id", "id", required=True),  # empty = guest order
            Column("ordered_at", "timestamp", required=True, not_empty=True, plausible_time=True),
            _amount("total_amount", required=True, not_empty=True),
            Column("status", "lower_text"),
            Column("currency"),
            _amount("discount_amount"),
            _amount("refunded_amount"),
            Column("coupon_code"),
            Column("channel"),
            # Delivery (optional): when the parcel left and arrived, and the day promised at
            # checkout. Row-level like the other timestamps: a nulled delivered_at would turn a
            # delivered order into a missing delivery.
            Column("shipped_at", "timestamp", not_before=("ordered_at",)),
            Column("delivered_at", "timestamp", not_before=("ordered_at", "shipped_at")),
            Column("promised_delivery_date", "date"),
            Column("updated_at", "timestamp"),
        ),
        key=("{a}.order_id",),
        version="updated_at",
    ),
    "order_items": EntitySchema(
        "order_items",
        (
            Column("order_id", "id", required=True, not_empty=True),
            Column("product_id", "id", required=True, not_empty=True),
            Column(
                "quantity",
                "integer",
                required=True,
                not_empty=True,
                negative_reason="negative_quantity",
            ),
            _amount("unit_price", required=True, not_empty=True),
            Column("line_id", "id"),
        ),
        # Without a line id, a product appears once per order.
        key=("{a}.order_id", "coalesce({a}.line_id, {a}.product_id)"),
        replaced_per="order_id",
    ),
    "events": EntitySchema(
        "events",
        (
            Column("event_id", "id", required=True, not_empty=True),
            Column("event_type", "text", required=True, not_empty=True),
            Column("occurred_at", "timestamp", required=True, not_empty=True, plausible_time=True),
            Column("customer_id", "id"),
            Column("properties", "json_object", field_level=True),
        ),
        key=("{a}.event_id",),
    ),
}

# Lineage columns on every raw table (docs/design.md, "Raw layer").
LINEAGE_COLUMNS = (
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_batch_date", "DATE"),
    ("_ingested_at", "TIMESTAMP"),
    ("_extra", "JSON"),
)

RAW_SCHEMA = "raw"
QUARANTINE_TABLE = "raw.quarantine"
INGEST_LOG_TABLE = "raw.ingest_log"


def schema_for(entity: str) -> EntitySchema:
    try:
        return SCHEMAS[entity]
    except KeyError:
        raise ValueError(
            f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}"
        ) from None


def raw_table(entity: str) -> str:
    return f"{RAW_SCHEMA}.{schema_for(entity).name}"


def raw_table_ddl(entity: str) -> str:
    schema = schema_for(entity)
    columns = [f'"{c.name}" {c.sql_type}' for c in schema.columns]
    columns += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS]
    return (
        f"CREATE TABLE IF NOT EXISTS {raw_table(entity)} (\n    " + ",\n    ".join(columns) + "\n)"
    )


QUARANTINE_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    entity VARCHAR,
    source_file VARCHAR,
    source_line BIGINT,
    reason VARCHAR,
    detail VARCHAR,
    raw_row JSON,
    _batch_date DATE,
    _ingested_at TIMESTAMP,
    level VARCHAR DEFAULT 'row',
    column_name VARCHAR,
    value VARCHAR
)"""

# Columns added after the first release: a warehouse of an earlier version gains them (its
# quarantine rows are all row-level).
QUARANTINE_UPGRADE = (
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS level VARCHAR DEFAULT 'row'",
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS column_name VARCHAR",
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS value VARCHAR",
)

INGEST_LOG_DDL = f"""
CREATE TABLE IF NOT EXISTS {INGEST_LOG_TABLE} (
    entity VARCHAR,
    source_file VARCHAR,
    batch_date DATE,
    ingested_at TIMESTAMP,
    file_format VARCHAR,
    file_size BIGINT,
    file_mtime TIMESTAMP,
    content_sha256 VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_duplicate BIGINT,
    quarantine_reasons JSON,
    kept_anomalies JSON,
    fields_nulled BIGINT DEFAULT 0,
    field_reasons JSON,
    source_cursor TIMESTAMP
)"""

INGEST_LOG_UPGRADE = (
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS fields_nulled BIGINT DEFAULT 0",
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS field_reasons JSON",
    # A read of a shop database (source_file 'db:<table>'): the highest updated_at it read, the
    # next run's starting point (ingestion/source_cursor.py). Null for files.
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS source_cursor TIMESTAMP",
)
