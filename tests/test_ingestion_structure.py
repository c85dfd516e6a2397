"""Structural landing problems stop the run with a LandingError naming file, column and line
(docs/metrics.md#bad-input)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.ingestion import LandingError, discover_landing, ingest_entity

# Every test twice: whole chunks and chunks cut into slices of two rows (conftest.py).
pytestmark = pytest.mark.usefixtures("ingestion_slices")

BATCH = dt.date(2024, 1, 31)
NOW = dt.datetime(2024, 1, 31, 6)
CUSTOMERS_OK = "customer_id,email\nC1,a@example.com\n"
ORDERS_OK = "order_id,customer_id,ordered_at,total_amount\nO1,C1,2024-01-01T10:00:00Z,10\n"


def make_landing(root: Path, files: dict[str, str | bytes]) -> Path:
    """A landing folder: the given files, plus valid customers/orders files unless given."""
    defaults = {"customers.csv": CUSTOMERS_OK, "orders.csv": ORDERS_OK}
    given_entities = {name.split("/")[0].split(".")[0] for name in files}
    for name, content in defaults.items():
        if name.split(".")[0] not in given_entities:
            files = {name: content, **files}
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def ingest_all(root: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    landing = discover_landing(root)
    for entity in ("customers", "products", "orders", "order_items", "events"):
        ingest_entity(con, landing, entity, BATCH, now=NOW)
    return con


# name, files, expected: (file named in the message, column, line, words in the message)
STRUCTURAL_CASES = [
    pytest.param(
        {"customers.csv": b"customer_id,first_name\nC1,Ann\nC2,Ren\xe9e\n"},
        ("customers.csv", None, 3, ["not UTF-8", "byte offset 36", "0xe9"]),
        id="not-utf8-latin1",
    ),
    pytest.param(
        {"orders.csv": "order_id;customer_id;ordered_at;total_amount\nO1;C1;2024-01-01;10\n"},
        ("orders.csv", None, 1, ["looks ;-delimited; expected comma"]),
        id="semicolon-delimited",
    ),
    pytest.param(
        {"orders.csv": "order_id\tcustomer_id\tordered_at\ttotal_amount\n"},
        ("orders.csv", None, 1, ["looks tab-delimited; expected comma"]),
        id="tab-delimited",
    ),
    pytest.param(
        {"customers.csv": ""},
        ("customers.csv", None, 1, ["empty file"]),
        id="empty-file-zero-bytes",
    ),
    pytest.param(
        {"customers.csv": "\ufeff"},
        ("customers.csv", None, 1, ["empty file"]),
        id="empty-file-only-bom",
    ),
    pytest.param(
        {"orders.csv": "order_id,customer_id,ordered_at\nO1,C1,2024-01-01\n"},
        ("orders.csv", "total_amount", None, ["missing required column 'total_amount'"]),
        id="missing-required-column-csv",
    ),
    pytest.param(
        {"events/day1.jsonl": '{"event_id": "E1", "occurred_at": "2024-01-01"}\n'},
        ("events/day1.jsonl", "event_type", None, ["missing required column 'event_type'"]),
        id="missing-required-column-jsonl",
    ),
    pytest.param(
        {
            "orders.csv": "order_id,customer_id,ordered_at,total_amount\nO1,C1,2024-01-01,10\nO2,C1,2024-01-01,10,extra\n"
        },
        ("orders.csv", None, 3, ["malformed CSV", "Expected Number of Columns: 4 Found: 5"]),
        id="ragged-csv-row",
    ),
    pytest.param(
        {"orders.csv": 'order_id,customer_id,ordered_at,total_amount\nO1,C1,"2024-01-01,10\n'},
        ("orders.csv", None, None, ["malformed CSV", "unterminated quote"]),
        id="unterminated-quote",
    ),
    pytest.param(
        {"products.parquet": b"PAR1 not really parquet"},
        ("products.parquet", None, None, ["unreadable Parquet file"]),
        id="unreadable-parquet",
    ),
    pytest.param(
        {"customers.csv": "customer_id,email,Email\nC1,a,b\n"},
        ("customers.csv", "Email", None, ["duplicate column 'Email'"]),
        id="duplicate-column",
    ),
    pytest.param(
        {"events.jsonl": '{"event_id": "E1", "event_type": "page_view", '
         '"occurred_at": "2024-01-01T00:00:00Z", "customer_id": "C1"}\n'
         '{"event_id": "E2", "properties": {"pad": "' + "x" * (17 << 20) + '"}}\n'},
        ("events.jsonl", None, 2, ["line 2 is longer than the 16 MB a record may have"]),
        id="jsonl-line-beyond-the-reader-buffer",
    ),
]


@pytest.mark.parametrize(("files", "expected"), STRUCTURAL_CASES)
def test_structural_problem_raises_landing_error(tmp_path, files, expected):
    file, column, line, words = expected
    root = make_landing(tmp_path / "landing", files)
    with pytest.raises(LandingError) as raised:
        ingest_all(root)
    error = raised.value
    assert error.file == file
    assert str(error).startswith(f"{file}: ")
    assert error.column == column
    if line is not None:
        assert error.line == line
    for word in words:
        assert word in str(error)


def test_utf8_error_reports_offset_of_the_bad_byte_across_read_chunks(tmp_path, monkeypatch):
    # A chunk boundary splits the valid two-byte é just before the bad byte.
    from retention_pipeline.ingestion import fingerprint

    monkeypatch.setattr(fingerprint, "CHUNK_BYTES", 17)
    prefix = (
        "customer_id\nC1\nC\u00e9\n".encode()
    )  # é is 2 bytes, at offsets 16-17; chunks of 17 split it
    content = prefix + b"C\xff\n"
    root = make_landing(tmp_path / "landing", {"customers.csv": content})
    with pytest.raises(LandingError) as raised:
        ingest_all(root)
    assert f"byte offset {len(prefix) + 1}" in str(raised.value)
    assert raised.value.line == 4


def test_missing_required_entity(tmp_path):
    root = tmp_path / "landing"
    (root / "customers").mkdir(parents=True)
    (root / "customers" / "2024-01-01.csv").write_text(CUSTOMERS_OK)
    with pytest.raises(LandingError, match="no orders file"):
        discover_landing(root)


def test_missing_landing_folder(tmp_path):
    with pytest.raises(LandingError, match="does not exist"):
        discover_landing(tmp_path / "nowhere")


def test_unsupported_file_in_entity_folder_is_an_error_but_markers_are_ignored(tmp_path):
    root = make_landing(
        tmp_path / "landing",
        {"orders/2024-01-01.csv": ORDERS_OK, "orders/_SUCCESS": "", "orders/.DS_Store": "x"},
    )
    assert [f.relative for f in discover_landing(root).files_of("orders")] == [
        "orders/2024-01-01.csv"
    ]
    (root / "orders" / "2024-01-02.xlsx").write_bytes(b"PK")
    with pytest.raises(LandingError) as raised:
        discover_landing(root)
    assert raised.value.file == "orders/2024-01-02.xlsx"


def test_discovery_finds_files_and_nested_daily_drops_in_path_order(tmp_path):
    root = make_landing(
        tmp_path / "landing",
        {
            "orders/2024/01/02.csv": ORDERS_OK,
            "orders/2024/01/01.csv": ORDERS_OK,
            "orders.parquet_notes.txt": "ignored: not an entity file",
            "events.jsonl": "",
            "returns.csv": "not an entity of the landing contract",
        },
    )
    landing = discover_landing(root)
    assert [f.relative for f in landing.files_of("orders")] == [
        "orders/2024/01/01.csv",
        "orders/2024/01/02.csv",
    ]
    assert [(f.relative, f.format) for f in landing.files_of("events")] == [
        ("events.jsonl", "jsonl")
    ]
    assert not landing.has("products")


def test_a_structural_error_writes_nothing_of_that_file(tmp_path):
    root = make_landing(
        tmp_path / "landing",
        {
            "orders.csv": "order_id,customer_id,ordered_at,total_amount\nO1,C1,2024-01-01,10\nO2,C1\n"
        },
    )
    con = duckdb.connect()
    landing = discover_landing(root)
    with pytest.raises(LandingError):
        ingest_entity(con, landing, "orders", BATCH, now=NOW)
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.ingest_log").fetchone()[0] == 0
    # The temp tables are cleaned up: the connection is usable for the next file.
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0


def test_header_only_and_empty_jsonl_files_are_zero_rows(tmp_path):
    root = make_landing(
        tmp_path / "landing",
        {
            "customers.csv": "customer_id,email\n",
            "orders.csv": "order_id,customer_id,ordered_at,total_amount",  # no final newline
            "events.jsonl": "",
        },
    )
    con = duckdb.connect()
    landing = discover_landing(root)
    for entity in ("customers", "orders", "events"):
        stats = ingest_entity(con, landing, entity, BATCH, now=NOW)
        assert (stats.rows_read, stats.files_read) == (0, 1)
