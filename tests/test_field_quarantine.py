"""Field-level quarantine: a bad optional value is nulled and the row kept, with a `field` record
in raw.quarantine; a bad required value still quarantines the row; rows still add up."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from retention_pipeline.ingestion import REASONS, discover_landing, ingest_entity
from tests.support.pipeline import write_csv

# Every test twice: whole chunks and chunks cut into slices of two rows (conftest.py).
pytestmark = pytest.mark.usefixtures("ingestion_slices")

BATCH = dt.date(2024, 1, 31)
NOW = dt.datetime(2024, 1, 31, 6)
CUSTOMERS = "customer_id,email,created_at,birthday,accepts_email,updated_at"
HEADERS = {
    "customers": CUSTOMERS,
    "orders": "order_id,customer_id,ordered_at,total_amount,status,updated_at",
    "products": "product_id,name,category,price,launched_at",
    "events": "event_id,event_type,occurred_at,customer_id,properties",
}


def _ingest(root, entity, rows):
    for required in ("customers", "orders"):
        write_csv(root / f"{required}.csv", HEADERS[required], [])
    write_csv(root / f"{entity}.csv", HEADERS[entity], rows)
    con = duckdb.connect()
    stats = ingest_entity(con, discover_landing(root), entity, BATCH, now=NOW)
    return con, stats


def _records(con):
    return con.execute(
        "SELECT level, source_file, source_line, column_name, reason, value, detail "
        "FROM raw.quarantine ORDER BY source_line, column_name"
    ).fetchall()


# entity, rows, column read back, expected {line: (column, reason, value)}
FIELD_CASES = [
    pytest.param(
        "customers",
        ["C1,a@x.com,,1990-02-30,,", "C2,b@x.com,,17.05.1990,,", "C3,c@x.com,,1990-05-17,,"],
        "birthday",
        {1: ("birthday", "bad_date", "1990-02-30"), 2: ("birthday", "bad_date", "17.05.1990")},
        id="bad-birthday",
    ),
    pytest.param(
        "customers",
        ["C1,a@x.com,,,maybe,", "C2,b@x.com,,,Yes,", "C3,c@x.com,,,0,", "C4,d@x.com,,,N,"],
        "accepts_email",
        {1: ("accepts_email", "bad_boolean", "maybe")},
        id="bad-consent",
    ),
    pytest.param(
        "customers",
        ["C1,a@x.com,last tuesday,,,", "C2,b@x.com,2024-01-02T03:04:05Z,,,"],
        "created_at",
        {1: ("created_at", "bad_timestamp", "last tuesday")},
        id="bad-optional-timestamp",
    ),
    pytest.param(
        "products",
        ["P1,Tea,tea,5,soon", "P2,Cup,cups,3,2024-01-01"],
        "launched_at",
        {1: ("launched_at", "bad_timestamp", "soon")},
        id="bad-launch-date",
    ),
    pytest.param(
        "events",
        ['E1,page_view,2024-01-10T10:00:00Z,C1,"[1, 2]"',
         'E2,review,2024-01-10T10:00:00Z,C1,"{""rating"": 5}"',
         "E3,page_view,2024-01-10T10:00:00Z,C1,{oops}"],
        "properties",
        {1: ("properties", "bad_json", "[1, 2]"), 3: ("properties", "bad_json", "{oops}")},
        id="properties-not-an-object",
    ),
]


@pytest.mark.parametrize(("entity", "rows", "column", "expected"), FIELD_CASES)
def test_a_bad_optional_value_is_nulled_and_the_row_kept(tmp_path, entity, rows, column, expected):
    con, stats = _ingest(tmp_path, entity, rows)
    records = _records(con)
    assert {line: (col, reason, value) for _, _, line, col, reason, value, _ in records} == expected
    assert {r[0] for r in records} == {"field"}
    assert all(r[1] == f"{entity}.csv" for r in records)
    assert all(reason in REASONS for *_, reason, _, _ in [r[:6] + (None,) for r in records])
    assert "set to null, the row is kept" in records[0][6]
    # Every row is in raw; the bad values are null there.
    assert (stats.rows_read, stats.rows_loaded, stats.rows_quarantined) == (len(rows), len(rows), 0)
    assert stats.rows_read == stats.rows_loaded + stats.rows_quarantined + stats.rows_duplicate
    assert stats.fields_nulled == len(expected)
    assert sum(stats.field_reasons.values()) == len(expected)
    nulls = con.execute(
        f'SELECT _source_line FROM raw.{entity} WHERE "{column}" IS NULL ORDER BY 1'
    ).fetchall()
    assert set(expected) <= {n[0] for n in nulls}
    # Field records are not bad rows: they never trip the quarantine threshold.
    assert stats.share_bad == 0 and not stats.exceeds(0.0)
    assert stats.to_metadata()["fields_nulled"] == len(expected)
    logged = con.execute("SELECT sum(fields_nulled) FROM raw.ingest_log").fetchone()[0]
    assert logged == len(expected)


def test_a_bad_required_value_still_quarantines_the_whole_row(tmp_path):
    con, stats = _ingest(tmp_path, "customers", [",a@x.com,,1990-02-30,,", "C2,b@x.com,,,,"])
    assert [(r[0], r[2], r[4]) for r in _records(con)] == [("row", 1, "missing_key")]
    assert (stats.rows_loaded, stats.rows_quarantined, stats.fields_nulled) == (1, 1, 0)


def test_an_old_warehouse_gains_the_new_quarantine_columns(tmp_path):
    """A raw.quarantine / raw.ingest_log of an earlier version: the columns are added, its rows
    read as row-level, and loading goes on."""
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw")
    con.execute("""CREATE TABLE raw.quarantine (entity VARCHAR, source_file VARCHAR,
        source_line BIGINT, reason VARCHAR, detail VARCHAR, raw_row JSON, _batch_date DATE,
        _ingested_at TIMESTAMP)""")
    con.execute("INSERT INTO raw.quarantine VALUES ('orders', 'o.csv', 3, 'missing_key', 'x', "
                "NULL, DATE '2024-01-01', TIMESTAMP '2024-01-01')")
    con.execute("""CREATE TABLE raw.ingest_log (entity VARCHAR, source_file VARCHAR,
        batch_date DATE, ingested_at TIMESTAMP, file_format VARCHAR, file_size BIGINT,
        file_mtime TIMESTAMP, content_sha256 VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
        rows_quarantined BIGINT, rows_duplicate BIGINT, quarantine_reasons JSON,
        kept_anomalies JSON)""")
    con.execute("INSERT INTO raw.ingest_log VALUES ('orders', 'o.csv', DATE '2024-01-01', "
                "TIMESTAMP '2024-01-01', 'csv', 1, TIMESTAMP '2024-01-01', 'h', 4, 3, 1, 0, "
                "'{\"missing_key\": 1}', '{}')")
    landing = tmp_path / "landing"
    write_csv(landing / "orders.csv", HEADERS["orders"], [])
    write_csv(landing / "customers.csv", CUSTOMERS, ["C1,a@x.com,,1990-02-30,,"])
    stats = ingest_entity(con, discover_landing(landing), "customers", BATCH, now=NOW)
    assert stats.fields_nulled == 1
    assert con.execute(
        "SELECT entity, level, column_name FROM raw.quarantine ORDER BY entity"
    ).fetchall() == [("customers", "field", "birthday"), ("orders", "row", None)]
    old = con.execute(
        "SELECT coalesce(fields_nulled, 0) FROM raw.ingest_log WHERE entity = 'orders'"
    ).fetchone()
    assert old == (0,)
