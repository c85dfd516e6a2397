"""Row-level rules: every bad row lands in raw.quarantine with its reason and line; good rows are
typed as the raw-layer contract says; kept anomalies are counted (docs/metrics.md#bad-input;
docs/design.md)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.ingestion import REASONS, discover_landing, ingest_entity

# Every test twice: whole chunks and chunks cut into slices of two rows (conftest.py).
pytestmark = pytest.mark.usefixtures("ingestion_slices")

BATCH = dt.date(2024, 1, 31)
NOW = dt.datetime(2024, 1, 31, 6)  # cutoff for future_timestamp: 2024-02-02 00:00 UTC
CUSTOMERS = "customer_id,email,created_at,birthday,accepts_email,updated_at"
ORDERS = "order_id,customer_id,ordered_at,total_amount,status,updated_at"
ITEMS = "order_id,product_id,quantity,unit_price"
EVENTS = "event_id,event_type,occurred_at,customer_id,properties"
PRODUCTS = "product_id,name,category,price"
HEADERS = {
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "order_items": ITEMS,
    "events": EVENTS,
    "products": PRODUCTS,
}


def write(root: Path, name: str, lines: list[str] | str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text(
            lines if isinstance(lines, str) else "\n".join(lines) + "\n", encoding="utf-8"
        )
    return path


def landing_for(root: Path, entity: str, rows: list[str], header: str | None = None) -> Path:
    """A landing folder whose `entity` CSV has the rows; customers/orders exist (header only)."""
    for required in ("customers", "orders"):
        write(root, f"{required}.csv", [HEADERS[required]])
    write(root, f"{entity}.csv", [header or HEADERS[entity], *rows])
    return root


def ingest(con, root: Path, entity: str, batch=BATCH, now=NOW):
    return ingest_entity(con, discover_landing(root), entity, batch, now=now)


def quarantined(con, entity: str) -> dict[int, str]:
    rows = con.execute(
        "SELECT source_line, reason FROM raw.quarantine WHERE entity = ? ORDER BY source_line",
        [entity],
    ).fetchall()
    return dict(rows)


OK_ORDER = "2024-01-10T10:00:00Z,10.50,paid,"
# entity, data rows, expected {line: reason} in quarantine
ROW_CASES = [
    pytest.param(
        "orders",
        ["O1,C1," + OK_ORDER, ",C1," + OK_ORDER],
        {2: "missing_key"},
        id="missing-order-id",
    ),
    pytest.param("orders", ["O1,C1,,10,paid,"], {1: "missing_key"}, id="missing-ordered-at"),
    pytest.param(
        "orders", ["O1,C1,2024-01-10T10:00:00Z,,paid,"], {1: "missing_key"}, id="missing-total"
    ),
    pytest.param(
        "customers",
        [",a@x.com,,,,", "  ,b@x.com,,,,"],
        {1: "missing_key", 2: "missing_key"},
        id="missing-customer-id",
    ),
    pytest.param(
        "orders",
        [
            "O1,C1,yesterday,10,paid,",
            "O2,C1,2024-13-01T00:00:00,10,paid,",
            "O3,C1,01/02/2024,10,paid,",
            "O4,C1,infinity,10,paid,",
            "O5,C1,2024-01-10T10:00:00Z,10,paid,2024-02-30",
        ],
        {
            1: "bad_timestamp",
            2: "bad_timestamp",
            3: "bad_timestamp",
            4: "bad_timestamp",
            5: "bad_timestamp",
        },
        id="unparseable-timestamps",
    ),
    pytest.param(
        "orders",
        [
            "O1,C1,2024-01-10T10:00:00Z,-0.01,paid,",
            "O2,C1,2024-01-10T10:00:00Z,ten,paid,",
            'O3,C1,2024-01-10T10:00:00Z,"1,234.50",paid,',
            "O4,C1,2024-01-10T10:00:00Z,0x1F,paid,",
            "O5,C1,2024-01-10T10:00:00Z,nan,paid,",
            "O6,C1,2024-01-10T10:00:00Z,0,paid,",
        ],
        {1: "negative_amount", 2: "bad_number", 3: "bad_number", 4: "bad_number", 5: "bad_number"},
        id="negative-and-non-numeric-amounts",
    ),
    pytest.param(
        "order_items",
        ["O1,P1,-1,5", "O2,P1,two,5", "O3,P1,1.5,5", "O4,P1,2,-5", "O5,P1,2.0,5", "O6,P1,0,5"],
        {1: "negative_quantity", 2: "bad_number", 3: "bad_number", 4: "negative_amount"},
        id="negative-and-non-numeric-quantities",
    ),
    pytest.param(
        "orders",
        [
            "O1,C1,2024-01-10T10:00:00Z,2e9,paid,",
            "O2,C1,2024-01-10T10:00:00Z,1e20,paid,",
            "O3,C1,2024-01-10T10:00:00Z,999999999,paid,",
        ],
        {1: "absurd_value", 2: "absurd_value"},
        id="absurd-amounts",
    ),
    pytest.param(
        "orders",
        ["O1,C1,1970-01-01T00:00:00Z,10,paid,", "O2,C1,1990-01-01T00:00:00Z,10,paid,"],
        {1: "absurd_value"},
        id="epoch-order-time",
    ),
    pytest.param(
        "order_items",
        ["O1,P1,1000001,5", "O2,P1,99999999999,5", "O3,P1,1000000,5"],
        {1: "absurd_value", 2: "absurd_value"},
        id="absurd-quantities",
    ),
    pytest.param(
        "orders",
        [
            "O1,C1,2024-02-01T23:59:59Z,10,paid,",
            "O2,C1,2024-02-02T00:00:01Z,10,paid,",
            "O3,C1,2024-02-02T07:59:59+08:00,10,paid,",
            "O4,C1,2024-02-02T09:00:00+08:00,10,paid,",
        ],
        {2: "future_timestamp", 4: "future_timestamp"},
        id="future-orders",
    ),
    pytest.param(
        "events",
        [
            "E1,page_view,2024-01-10T10:00:00Z,C1,",
            "E1,add_to_cart,2024-01-10T10:00:00Z,C1,",
            "E2,page_view,2024-01-10T10:00:00Z,C1,",
        ],
        {1: "conflicting_duplicate", 2: "conflicting_duplicate"},
        id="conflicting-event-ids",
    ),
    pytest.param(
        "orders",
        [
            "O1,C1,2024-01-10T10:00:00Z,10,paid,2024-01-10T10:00:00Z",
            "O1,C1,2024-01-10T10:00:00Z,0,refunded,2024-01-10T10:00:00Z",
            "O2,C1,2024-01-10T10:00:00Z,10,paid,",
            "O2,C1,2024-01-10T10:00:00Z,10,cancelled,",
        ],
        {
            1: "conflicting_duplicate",
            2: "conflicting_duplicate",
            3: "conflicting_duplicate",
            4: "conflicting_duplicate",
        },
        id="conflicting-order-ids-same-updated-at",
    ),
    pytest.param(
        "order_items",
        ["O1,P1,1,5", "O1,P1,2,5", "O1,P2,1,5"],
        {1: "conflicting_duplicate", 2: "conflicting_duplicate"},
        id="conflicting-order-lines",
    ),
    pytest.param(
        "products",
        ["P1,Tea,tea,-1", "P2,Cup,,abc", "P3,Pot,,2000000000", ",Lid,,1"],
        {1: "negative_amount", 2: "bad_number", 3: "absurd_value", 4: "missing_key"},
        id="products",
    ),
]


@pytest.mark.parametrize(("entity", "rows", "expected"), ROW_CASES)
def test_bad_rows_are_quarantined_with_reason_and_line(tmp_path, entity, rows, expected):
    con = duckdb.connect()
    stats = ingest(con, landing_for(tmp_path, entity, rows), entity)
    assert quarantined(con, entity) == expected
    assert set(expected.values()) <= set(REASONS)
    loaded = con.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0]
    assert (stats.rows_read, stats.rows_quarantined, loaded) == (
        len(rows),
        len(expected),
        len(rows) - len(expected),
    )
    assert stats.rows_read == stats.rows_loaded + stats.rows_quarantined + stats.rows_duplicate


def test_quarantine_keeps_the_row_as_sent_and_says_what_is_wrong(tmp_path):
    con = duckdb.connect()
    root = landing_for(
        tmp_path, "orders", ["O1,C1,2024-01-10T10:00:00Z,ten,paid,", "O2,C1,later,1,paid,"]
    )
    ingest(con, root, "orders")
    rows = con.execute(
        "SELECT source_file, source_line, reason, detail, raw_row, _batch_date FROM raw.quarantine ORDER BY 2"
    ).fetchall()
    assert rows[0][:4] == ("orders.csv", 1, "bad_number", "total_amount 'ten' is not a number")
    assert json.loads(rows[0][4]) == {
        "order_id": "O1",
        "customer_id": "C1",
        "ordered_at": "2024-01-10T10:00:00Z",
        "total_amount": "ten",
        "status": "paid",
        "updated_at": None,
    }
    assert rows[0][5] == BATCH
    assert rows[1][3] == "ordered_at 'later' is not an ISO 8601 timestamp"


def test_conflict_detail_names_the_other_lines(tmp_path):
    con = duckdb.connect()
    root = landing_for(
        tmp_path,
        "events",
        [
            "E1,page_view,2024-01-10T10:00:00Z,C1,",
            "E2,page_view,2024-01-10T10:00:00Z,C1,",
            "E1,search,2024-01-10T10:00:00Z,C1,",
        ],
    )
    ingest(con, root, "events")
    details = [
        r[0]
        for r in con.execute("SELECT detail FROM raw.quarantine ORDER BY source_line").fetchall()
    ]
    assert (
        details
        == ["event_id 'E1' has different rows with no version stamp (events.csv:1, events.csv:3)"]
        * 2
    )


def test_exact_duplicates_in_a_file_are_loaded_once_and_counted(tmp_path):
    con = duckdb.connect()
    row = "O1,C1,2024-01-10T10:00:00Z,10.50,paid,"
    root = landing_for(
        tmp_path,
        "orders",
        [
            row,
            "O2,C1,2024-01-10T11:00:00Z,3,paid,",
            row,
            "O1,C1,2024-01-10T10:00:00.000+00:00,10.5,PAID,",
        ],
    )
    stats = ingest(con, root, "orders")
    # The last row is the same order in other spellings: same typed content, a duplicate too.
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate, stats.rows_quarantined) == (
        4,
        2,
        2,
        0,
    )
    assert con.execute("SELECT order_id, _source_line FROM raw.orders ORDER BY 1").fetchall() == [
        ("O1", 1),
        ("O2", 2),
    ]


def test_mixed_time_zone_offsets_are_stored_as_naive_utc_whatever_the_session_zone(tmp_path):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    rows = [
        "O1,C1,2024-01-10T10:00:00Z,1,,",
        "O2,C1,2024-01-10T10:00:00+08:00,1,,",
        "O3,C1,2024-01-10T10:00:00-05:00,1,,",
        "O4,C1,2024-01-10 10:00:00,1,,",  # no offset: UTC
        "O5,C1,2024-01-10T10:00:00+05:30,1,,",
        "O6,C1,2024-01-10T10:00:00.123456+0100,1,,",
        "O7,C1,2024-01-10,1,,",
        "O8,C1,2023-07-01T12:00:00 Europe/Berlin,1,,",  # a zone name: summer time, UTC+2
    ]
    ingest(con, landing_for(tmp_path, "orders", rows), "orders")
    got = dict(con.execute("SELECT order_id, ordered_at FROM raw.orders").fetchall())
    assert got == {
        "O1": dt.datetime(2024, 1, 10, 10, 0),
        "O2": dt.datetime(2024, 1, 10, 2, 0),
        "O3": dt.datetime(2024, 1, 10, 15, 0),
        "O4": dt.datetime(2024, 1, 10, 10, 0),
        "O5": dt.datetime(2024, 1, 10, 4, 30),
        "O6": dt.datetime(2024, 1, 10, 9, 0, 0, 123456),
        "O7": dt.datetime(2024, 1, 10, 0, 0),
        "O8": dt.datetime(2023, 7, 1, 10, 0),
    }
    # The caller's session setting is restored.
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "America/New_York"


def test_typed_values_follow_the_raw_contract(tmp_path):
    con = duckdb.connect()
    write(
        tmp_path,
        "orders.csv",
        [
            "order_id,customer_id,ordered_at,total_amount,status,currency,discount_amount,refunded_amount,coupon_code,channel,updated_at",
            " O1 ,C1,2024-01-10T10:00:00Z,10.5,  Partially_Refunded ,EUR,1.25,3,WELCOME, web ,2024-01-12T00:00:00Z",
            "O2,,2024-01-10T10:00:00Z,0,,,,,,,",
        ],
    )
    write(
        tmp_path,
        "customers.csv",
        [
            "customer_id,birthday,accepts_email,accepts_sms,accepts_push,accepts_wechat,email",
            "C1,1990-05-17,Yes,0,true,F,",
        ],
    )
    for entity in ("customers", "orders"):
        ingest(con, tmp_path, entity)
    order = con.execute(
        "SELECT order_id, customer_id, total_amount, status, discount_amount, refunded_amount, channel, updated_at "
        "FROM raw.orders ORDER BY order_id"
    ).fetchall()
    assert order == [
        (
            "O1",
            "C1",
            Decimal("10.5000"),
            "partially_refunded",
            Decimal("1.2500"),
            Decimal("3.0000"),
            " web ",
            dt.datetime(2024, 1, 12),
        ),
        (
            "O2",
            None,
            Decimal("0.0000"),
            None,
            None,
            None,
            None,
            None,
        ),  # guest order, missing status stays null
    ]
    customer = con.execute(
        "SELECT birthday, accepts_email, accepts_sms, accepts_push, accepts_wechat, email FROM raw.customers"
    ).fetchone()
    assert customer == (dt.date(1990, 5, 17), True, False, True, False, None)


def test_raw_tables_have_the_contract_columns_even_for_absent_entities(tmp_path):
    con = duckdb.connect()
    root = landing_for(tmp_path, "orders", ["O1,C1," + OK_ORDER])
    stats = ingest(con, root, "order_items")  # no order_items file at all
    assert (stats.rows_read, stats.files) == (0, ())
    columns = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' ORDER BY table_name, ordinal_position"
    ).fetchall()
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in columns:
        by_table.setdefault(table, []).append((column, data_type))
    lineage = [
        ("_source_file", "VARCHAR"),
        ("_source_line", "BIGINT"),
        ("_batch_date", "DATE"),
        ("_ingested_at", "TIMESTAMP"),
        ("_extra", "JSON"),
    ]
    money = "DECIMAL(18,4)"
    assert by_table["order_items"] == [
        ("order_id", "VARCHAR"),
        ("product_id", "VARCHAR"),
        ("quantity", "INTEGER"),
        ("unit_price", money),
        ("line_id", "VARCHAR"),
        *lineage,
    ]
    assert by_table["events"] == [
        ("event_id", "VARCHAR"),
        ("event_type", "VARCHAR"),
        ("occurred_at", "TIMESTAMP"),
        ("customer_id", "VARCHAR"),
        ("properties", "JSON"),
        *lineage,
    ]
    assert by_table["orders"] == [
        ("order_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("ordered_at", "TIMESTAMP"),
        ("total_amount", money),
        ("status", "VARCHAR"),
        ("currency", "VARCHAR"),
        ("discount_amount", money),
        ("refunded_amount", money),
        ("coupon_code", "VARCHAR"),
        ("channel", "VARCHAR"),
        ("shipped_at", "TIMESTAMP"),
        ("delivered_at", "TIMESTAMP"),
        ("promised_delivery_date", "DATE"),
        ("updated_at", "TIMESTAMP"),
        *lineage,
    ]
    assert by_table["products"] == [
        ("product_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("price", money),
        ("launched_at", "TIMESTAMP"),
        ("updated_at", "TIMESTAMP"),
        *lineage,
    ]
    assert [c for c, _ in by_table["customers"]][:3] == ["customer_id", "created_at", "email"]
    assert dict(by_table["customers"])["birthday"] == "DATE"
    assert dict(by_table["customers"])["accepts_wechat"] == "BOOLEAN"
    assert {"quarantine", "ingest_log"} <= set(by_table)


def test_utf8_bom_is_tolerated(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "orders.csv", [ORDERS])
    write(tmp_path, "customers.csv", ("\ufeff" + CUSTOMERS + "\nC1,a@x.com,,,,\n").encode("utf-8"))
    stats = ingest(con, tmp_path, "customers")
    assert stats.rows_loaded == 1
    assert con.execute("SELECT customer_id, _extra FROM raw.customers").fetchone() == ("C1", None)


def test_unknown_extra_columns_are_kept_in_extra(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "orders.csv", [ORDERS])
    write(
        tmp_path,
        "customers.csv",
        ["customer_id,Loyalty Tier,email,,Ref", "C1,gold,a@x.com,,", "C2,,b@x.com,,r2"],
    )
    ingest(con, tmp_path, "customers")
    got = con.execute(
        "SELECT customer_id, CAST(_extra AS VARCHAR) FROM raw.customers ORDER BY 1"
    ).fetchall()
    assert [(c, json.loads(e) if e else None) for c, e in got] == [
        ("C1", {"Loyalty Tier": "gold"}),  # empty extra values are left out
        ("C2", {"Ref": "r2"}),
    ]


def test_header_names_match_case_insensitively(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "customers.csv", [CUSTOMERS])
    write(
        tmp_path,
        "orders.csv",
        ["Order_ID , Customer_Id,ORDERED_AT,total_amount", "O1,C1,2024-01-10,5"],
    )
    ingest(con, tmp_path, "orders")
    assert con.execute("SELECT order_id, customer_id FROM raw.orders").fetchall() == [("O1", "C1")]


def test_unknown_customer_is_kept_and_counted(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "customers.csv", [CUSTOMERS, "C1,a@x.com,,,,"])
    write(
        tmp_path,
        "orders.csv",
        [
            ORDERS,
            "O1,C1," + OK_ORDER,
            "O2,C404," + OK_ORDER,
            "O3,," + OK_ORDER,
            "O4,C405," + OK_ORDER,
        ],
    )
    ingest(con, tmp_path, "customers")
    stats = ingest(con, tmp_path, "orders")
    assert stats.rows_loaded == 4 and stats.rows_quarantined == 0
    assert stats.kept_anomalies["orders_unknown_customer"] == 2  # the guest order O3 is not unknown
    assert stats.to_metadata()["orders_unknown_customer"] == 2


def test_unknown_status_is_kept_lower_cased_and_counted(tmp_path):
    con = duckdb.connect()
    root = landing_for(
        tmp_path,
        "orders",
        ["O1,C1,2024-01-10,5,Lost_In_Mail,", "O2,C1,2024-01-10,5,Shipped,",
         "O3,C1,2024-01-10,5,,", "O4,C1,2024-01-10,5,On-Hold,"],
    )
    stats = ingest(con, root, "orders")
    # On-Hold is mapped by the seed order_status_map (WooCommerce): known, not counted.
    assert stats.kept_anomalies["orders_unknown_status"] == 1
    assert con.execute("SELECT list(status ORDER BY order_id) FROM raw.orders").fetchone()[0] == [
        "lost_in_mail",
        "shipped",
        None,
        "on-hold",
    ]


def test_unknown_event_type_is_kept_and_counted(tmp_path):
    con = duckdb.connect()
    root = landing_for(
        tmp_path,
        "events",
        [
            "E1,page_view,2024-01-10T10:00:00Z,C1,",
            "E2,Wishlist_Add,2024-01-10T10:00:00Z,C1,",
            "E3, Add_To_Cart ,2024-01-10T10:00:00Z,C1,",
        ],
    )
    stats = ingest(con, root, "events")
    assert (stats.rows_loaded, stats.kept_anomalies) == (3, {"events_unknown_type": 1})


def test_jsonl_rows_lines_nested_properties_and_extras(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "customers.csv", [CUSTOMERS])
    write(tmp_path, "orders.csv", [ORDERS])
    lines = [
        (
            '{"event_id": "E1", "event_type": "review", "occurred_at": "2024-01-10T10:00:00+01:00", '
            '"customer_id": 42, "properties": {"rating": 5, "product_id": "P1"}, "device": {"os": "ios"}}'
        ),
        "",
        "not json at all",
        '["an", "array"]',
        '{"event_id": "E2", "event_type": "page_view", "occurred_at": "2024-01-10"}',
        '{"event_id": "E3", "event_type": "page_view", "occurred_at": "2024-01-10", "properties": "x"}',
    ]
    write(tmp_path, "events.jsonl", "\r\n".join(lines) + "\r\n")
    stats = ingest(con, tmp_path, "events")
    assert (stats.rows_read, stats.rows_loaded, stats.rows_quarantined, stats.fields_nulled) == (
        5,
        3,
        2,
        1,
    )  # the blank line is not a row; E3's properties are not an object: nulled, E3 kept
    assert quarantined(con, "events") == {3: "malformed_row", 4: "malformed_row", 6: "bad_json"}
    got = con.execute(
        "SELECT event_id, occurred_at, customer_id, CAST(properties AS VARCHAR), CAST(_extra AS VARCHAR), _source_line "
        "FROM raw.events ORDER BY event_id"
    ).fetchall()
    assert got == [
        (
            "E1",
            dt.datetime(2024, 1, 10, 9),
            "42",
            '{"rating":5,"product_id":"P1"}',
            '{"device":{"os":"ios"}}',
            1,
        ),
        ("E2", dt.datetime(2024, 1, 10), None, None, None, 5),
        ("E3", dt.datetime(2024, 1, 10), None, None, None, 6),
    ]
    raw_row = con.execute(
        "SELECT CAST(raw_row AS VARCHAR) FROM raw.quarantine WHERE source_line = 3"
    ).fetchone()[0]
    assert json.loads(raw_row) == "not json at all"


def test_parquet_rows_with_native_types(tmp_path):
    con = duckdb.connect()
    write(tmp_path, "customers.csv", [CUSTOMERS])
    write(tmp_path, "orders.csv", [ORDERS])
    path = tmp_path / "events" / "2024-01-10.parquet"
    path.parent.mkdir()
    source = duckdb.connect()
    source.execute("SET TimeZone = 'Asia/Tokyo'")  # the writer's zone must not matter
    source.execute(f"""
        COPY (SELECT * FROM (VALUES
            ('E1', 'review', TIMESTAMPTZ '2024-01-10 10:00:00+09', {{'rating': 5}}, 'a'),
            ('E2', 'page_view', TIMESTAMPTZ '2024-01-10 12:00:00+00', NULL, 'b'),
            (NULL, 'page_view', TIMESTAMPTZ '2024-01-10 12:00:00+00', NULL, 'c')
        ) v(event_id, event_type, occurred_at, properties, Source)) TO '{path}' (FORMAT parquet)
    """)
    stats = ingest(con, tmp_path, "events")
    assert (stats.rows_read, stats.rows_loaded, stats.rows_quarantined) == (3, 2, 1)
    got = con.execute(
        "SELECT event_id, occurred_at, CAST(properties AS VARCHAR), CAST(_extra AS VARCHAR), _source_line "
        "FROM raw.events ORDER BY 1"
    ).fetchall()
    assert got == [
        ("E1", dt.datetime(2024, 1, 10, 1), '{"rating":5}', '{"Source":"a"}', None),
        ("E2", dt.datetime(2024, 1, 10, 12), None, '{"Source":"b"}', None),
    ]
    # Parquet has no lines: raw keeps _source_line null, the quarantine gives the row number.
    assert quarantined(con, "events") == {3: "missing_key"}


def test_reported_line_is_right_in_a_large_file_read_in_parallel(
    tmp_path, monkeypatch, ingestion_slices
):
    """Line numbers come from file order; a file of several read buffers must keep that order
    (and, sliced, a file of four slices)."""
    if ingestion_slices == "sliced":
        monkeypatch.setattr("retention_pipeline.ingestion.load.SLICE_ROWS", 100_000)
    con = duckdb.connect()
    con.execute("SET threads = 4")
    write(tmp_path, "customers.csv", [CUSTOMERS])
    n, bad = 400_000, {7: "bad_number", 150_001: "missing_key", 399_999: "bad_timestamp"}
    path = tmp_path / "orders.csv"
    # Order ids carry their line number; a few rows are broken at known lines; one value spans
    # two physical lines (a record, not a line, is what _source_line counts).
    con.execute(f"""
        COPY (
            SELECT CASE WHEN i = 150001 THEN '' ELSE 'O' || i END AS order_id,
                   CASE WHEN i = 5 THEN 'C' || chr(10) || 'X' ELSE 'C' || (i % 1000) END AS customer_id,
                   CASE WHEN i = 399999 THEN 'soon' ELSE '2024-01-10T10:00:00Z' END AS ordered_at,
                   CASE WHEN i = 7 THEN 'n/a' ELSE (i % 500)::VARCHAR || '.25' END AS total_amount,
                   repeat('x', 60) AS coupon_code  -- > 32 MB: several read buffers
            FROM range(1, {n + 1}) r(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """)
    assert path.stat().st_size > 40_000_000
    stats = ingest(con, tmp_path, "orders")
    assert (stats.rows_read, stats.rows_loaded) == (n, n - len(bad))
    assert quarantined(con, "orders") == bad
    assert (
        con.execute(
            "SELECT count(*) FROM raw.orders WHERE _source_line <> CAST(substr(order_id, 2) AS BIGINT)"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute("SELECT customer_id FROM raw.orders WHERE order_id = 'O5'").fetchone()[0]
        == "C\nX"
    )


DELIVERY = "order_id,customer_id,ordered_at,total_amount,shipped_at,delivered_at,promised_delivery_date"


def test_delivery_times_are_typed_and_a_delivery_before_its_order_is_quarantined(tmp_path):
    con = duckdb.connect()
    rows = [
        "O1,C1,2024-01-10T10:00:00Z,10,2024-01-11T08:00:00Z,2024-01-13T15:30:00+01:00,2024-01-14",
        "O2,C1,2024-01-10T10:00:00Z,10,,,",  # nothing sent: all null, row kept
        "O3,C1,2024-01-10T10:00:00Z,10,2024-01-11T08:00:00Z,,2024-01-12",  # shipped, not arrived
        "O4,C1,2024-01-10T10:00:00Z,10,2024-01-09T08:00:00Z,,",  # shipped before ordered
        "O5,C1,2024-01-10T10:00:00Z,10,,2024-01-10T09:59:59Z,",  # delivered before ordered
        "O6,C1,2024-01-10T10:00:00Z,10,2024-01-12T08:00:00Z,2024-01-11T08:00:00Z,",  # before shipped
        "O7,C1,2024-01-10T10:00:00Z,10,,soon,",
        "O8,C1,2024-01-10T10:00:00Z,10,,,next week",
    ]
    stats = ingest(con, landing_for(tmp_path, "orders", rows, header=DELIVERY), "orders")
    assert quarantined(con, "orders") == {
        4: "delivery_before_order",
        5: "delivery_before_order",
        6: "delivery_before_order",
        7: "bad_timestamp",
        8: "bad_date",
    }
    assert stats.rows_read == stats.rows_loaded + stats.rows_quarantined + stats.rows_duplicate
    detail = con.execute(
        "SELECT detail FROM raw.quarantine WHERE source_line = 6"
    ).fetchone()[0]
    assert detail == (
        "delivered_at '2024-01-11T08:00:00Z' is before shipped_at '2024-01-12T08:00:00Z'"
    )
    loaded = con.execute(
        "SELECT order_id, shipped_at, delivered_at, promised_delivery_date FROM raw.orders"
        " ORDER BY order_id"
    ).fetchall()
    assert loaded == [
        ("O1", dt.datetime(2024, 1, 11, 8), dt.datetime(2024, 1, 13, 14, 30), dt.date(2024, 1, 14)),
        ("O2", None, None, None),
        ("O3", dt.datetime(2024, 1, 11, 8), None, dt.date(2024, 1, 12)),
    ]


def test_a_raw_table_of_an_earlier_version_gains_the_delivery_columns(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.orders (order_id VARCHAR, customer_id VARCHAR, ordered_at TIMESTAMP,"
        " total_amount DECIMAL(18,4), _source_file VARCHAR, _source_line BIGINT,"
        " _batch_date DATE, _ingested_at TIMESTAMP, _extra JSON)"
    )
    con.execute("INSERT INTO raw.orders (order_id) VALUES ('OLD')")
    rows = ["O1,C1,2024-01-10T10:00:00Z,10,,2024-01-12T10:00:00Z,2024-01-13"]
    ingest(con, landing_for(tmp_path, "orders", rows, header=DELIVERY), "orders")
    assert con.execute(
        "SELECT order_id, delivered_at FROM raw.orders ORDER BY order_id"
    ).fetchall() == [("O1", dt.datetime(2024, 1, 12, 10)), ("OLD", None)]
