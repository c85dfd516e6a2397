"""Incremental ingestion: files already read are skipped, re-sent rows are versions or duplicates,
re-running a day changes nothing, and read = loaded + quarantined + duplicate
(docs/metrics.md#bad-input)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.ingestion import (
    DEFAULT_QUARANTINE_THRESHOLD,
    discover_landing,
    ingest_entity,
)
from retention_pipeline.warehouse import connect

# Every test twice: whole chunks and chunks cut into slices of two rows (conftest.py).
pytestmark = pytest.mark.usefixtures("ingestion_slices")

DAY1, DAY2, DAY3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
CUSTOMERS = "customer_id,email,updated_at"
ORDERS = "order_id,customer_id,ordered_at,total_amount,status,refunded_amount,updated_at"
ITEMS = "order_id,product_id,quantity,unit_price"


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def ingest(con, root: Path, entity: str, day: dt.date):
    return ingest_entity(
        con, discover_landing(root), entity, day, now=dt.datetime.combine(day, dt.time(6))
    )


def table(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.fixture
def shop(tmp_path) -> Path:
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, ["C1,a@x.com,", "C2,b@x.com,"])
    write(
        root / "orders" / "2024-01-01.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
            "O2,C2,2024-01-01T10:00:00Z,25,paid,,2024-01-01T10:00:00Z",
            "O3,C2,2024-01-01T11:00:00Z,oops,paid,,",
        ],
    )
    return root


def test_reingesting_the_same_batch_is_idempotent(shop, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        first = ingest(con, shop, "orders", DAY1)
    with connect(warehouse) as con:  # a new process: everything comes from the warehouse file
        again = ingest(con, shop, "orders", DAY1)
        assert table(con, "SELECT count(*) FROM raw.orders") == [(2,)]
        assert table(con, "SELECT count(*) FROM raw.quarantine") == [(1,)]
        assert table(con, "SELECT count(*) FROM raw.ingest_log") == [(1,)]
    assert [f.skip_reason for f in again.files] == ["unchanged"]
    # The batch's numbers are the day's, not zeros: a day that failed its threshold fails again.
    assert (again.rows_read, again.rows_loaded, again.rows_quarantined) == (3, 2, 1)
    assert again.share_bad == first.share_bad == pytest.approx(1 / 3)
    assert again.quarantine_reasons == first.quarantine_reasons == {"bad_number": 1}


def test_touched_file_with_same_content_is_skipped_by_hash(shop):
    con = duckdb.connect()
    ingest(con, shop, "orders", DAY1)
    path = shop / "orders" / "2024-01-01.csv"
    os.utime(path, (1_900_000_000, 1_900_000_000))
    stats = ingest(con, shop, "orders", DAY2)
    assert [f.skip_reason for f in stats.files] == ["same_content"]
    assert (stats.rows_read, table(con, "SELECT count(*) FROM raw.orders")) == (0, [(2,)])


def test_second_days_file_in_a_folder_only_reads_the_new_file(shop):
    con = duckdb.connect()
    ingest(con, shop, "customers", DAY1)
    ingest(con, shop, "orders", DAY1)
    write(
        shop / "orders" / "2024-01-02.csv",
        ORDERS,
        [
            "O4,C1,2024-01-02T09:00:00Z,12,paid,,2024-01-02T09:00:00Z",
            "O5,C404,2024-01-02T10:00:00Z,8,paid,,2024-01-02T10:00:00Z",
        ],
    )
    stats = ingest(con, shop, "orders", DAY2)
    assert [(f.source_file, f.skipped, f.rows_read) for f in stats.files] == [
        ("orders/2024-01-01.csv", True, 0),
        ("orders/2024-01-02.csv", False, 2),
    ]
    assert (stats.rows_read, stats.rows_loaded, stats.share_bad) == (2, 2, 0.0)
    assert table(
        con,
        "SELECT order_id, _batch_date, _source_file FROM raw.orders WHERE order_id IN ('O4', 'O5') ORDER BY 1",
    ) == [
        ("O4", DAY2, "orders/2024-01-02.csv"),
        ("O5", DAY2, "orders/2024-01-02.csv"),
    ]
    assert stats.kept_anomalies == {"orders_unknown_customer": 1, "orders_unknown_status": 0}


def test_refund_resent_with_later_updated_at_is_appended_as_a_version(shop):
    con = duckdb.connect()
    ingest(con, shop, "orders", DAY1)
    write(
        shop / "orders" / "2024-01-08.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,refunded,40,2024-01-08T12:00:00Z",  # new version
            "O2,C2,2024-01-01T10:00:00Z,25,paid,,2024-01-01T10:00:00Z",  # re-sent unchanged
        ],
    )
    stats = ingest(con, shop, "orders", DAY2)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate, stats.rows_quarantined) == (
        2,
        1,
        1,
        0,
    )
    assert table(
        con,
        "SELECT status, refunded_amount, updated_at FROM raw.orders WHERE order_id = 'O1' ORDER BY updated_at",
    ) == [
        ("paid", None, dt.datetime(2024, 1, 1, 9)),
        ("refunded", 40, dt.datetime(2024, 1, 8, 12)),
    ]


def test_same_id_and_updated_at_with_other_content_conflicts_with_raw(shop):
    con = duckdb.connect()
    ingest(con, shop, "orders", DAY1)
    write(
        shop / "orders" / "2024-01-02.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,45,paid,,2024-01-01T09:00:00Z",
        ],
    )
    stats = ingest(con, shop, "orders", DAY2)
    assert stats.quarantine_reasons == {"conflicting_duplicate": 1}
    detail = table(con, "SELECT detail FROM raw.quarantine WHERE reason = 'conflicting_duplicate'")[
        0
    ][0]
    assert detail == (
        "order_id 'O1' differs from the version in raw with the same updated_at "
        "(orders/2024-01-01.csv:1)"
    )
    assert table(con, "SELECT total_amount FROM raw.orders WHERE order_id = 'O1'") == [(40,)]


def test_a_changed_file_is_read_again_and_only_new_rows_are_appended(shop):
    con = duckdb.connect()
    write(
        shop / "orders" / "2024-01-01.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
        ],
    )
    ingest(con, shop, "orders", DAY1)
    # The shop's export grows during the day; the file is re-sent in full.
    write(
        shop / "orders" / "2024-01-01.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
            "O2,C2,2024-01-01T10:00:00Z,25,paid,,2024-01-01T10:00:00Z",
        ],
    )
    stats = ingest(con, shop, "orders", DAY1)
    assert [f.skipped for f in stats.files] == [False]
    assert (
        stats.files[0].rows_read,
        stats.files[0].rows_loaded,
        stats.files[0].rows_duplicate,
    ) == (2, 1, 1)
    # The batch counts the file's latest read only.
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate) == (2, 1, 1)
    assert table(con, "SELECT order_id, _source_line FROM raw.orders ORDER BY 1") == [
        ("O1", 1),
        ("O2", 2),
    ]


def test_fixing_a_bad_file_clears_the_batch_share(shop):
    con = duckdb.connect()
    first = ingest(con, shop, "orders", DAY1)
    assert first.exceeds(DEFAULT_QUARANTINE_THRESHOLD)  # 1 of 3 rows bad
    write(
        shop / "orders" / "2024-01-01.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
            "O2,C2,2024-01-01T10:00:00Z,25,paid,,2024-01-01T10:00:00Z",
            "O3,C2,2024-01-01T11:00:00Z,30,paid,,",
        ],
    )
    fixed = ingest(con, shop, "orders", DAY1)
    assert (fixed.rows_read, fixed.rows_loaded, fixed.rows_duplicate, fixed.rows_quarantined) == (
        3,
        1,
        2,
        0,
    )
    assert not fixed.exceeds(DEFAULT_QUARANTINE_THRESHOLD)
    assert table(con, "SELECT count(*) FROM raw.orders") == [(3,)]


def test_order_lines_are_judged_as_a_set_per_order(tmp_path):
    con = duckdb.connect()
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(root / "orders.csv", ORDERS, [])
    write(root / "order_items" / "d1.csv", ITEMS, ["O1,P1,1,5", "O1,P2,2,3", "O2,P1,1,5"])
    ingest(con, root, "order_items", DAY1)
    # Day 2 re-sends O1 unchanged and O2 with a changed quantity.
    write(root / "order_items" / "d2.csv", ITEMS, ["O1,P2,2,3", "O1,P1,1,5", "O2,P1,3,5"])
    stats = ingest(con, root, "order_items", DAY2)
    assert (stats.rows_loaded, stats.rows_duplicate) == (1, 2)
    # Day 3 re-sends O1 with one line changed: the whole new set is appended (staging takes the
    # latest file's lines), including the unchanged line, so O1 does not lose P1.
    write(root / "order_items" / "d3.csv", ITEMS, ["O1,P1,1,5", "O1,P2,4,3"])
    stats = ingest(con, root, "order_items", DAY3)
    assert (stats.rows_loaded, stats.rows_duplicate) == (2, 0)
    latest = table(
        con,
        """
        SELECT order_id, product_id, quantity FROM raw.order_items
        QUALIFY dense_rank() OVER (PARTITION BY order_id ORDER BY _ingested_at DESC) = 1
        ORDER BY 1, 2""",
    )
    assert latest == [("O1", "P1", 1), ("O1", "P2", 4), ("O2", "P1", 3)]


def test_order_lines_sent_by_two_files_of_one_batch_are_judged_against_each_other(tmp_path):
    # A first load (raw empty) of two days' files at once: d2 re-sends O1's lines in another
    # order (the same set: duplicate) and O2 with a changed quantity (a new set: loaded). Only
    # the order's appearance in two files of the batch makes its lines worth comparing.
    con = duckdb.connect()
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(root / "orders.csv", ORDERS, [])
    write(root / "order_items" / "d1.csv", ITEMS, ["O1,P1,1,5", "O1,P2,2,3", "O2,P1,1,5"])
    write(root / "order_items" / "d2.csv", ITEMS, ["O1,P2,2,3", "O1,P1,1,5", "O2,P1,3,5"])
    stats = ingest(con, root, "order_items", DAY1)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate) == (6, 4, 2)
    assert table(
        con, "SELECT order_id, quantity FROM raw.order_items ORDER BY _source_file, 1, 2"
    ) == [("O1", 1), ("O1", 2), ("O2", 1), ("O2", 3)]


def test_events_exact_duplicates_against_raw_and_within_the_file(tmp_path):
    con = duckdb.connect()
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(root / "orders.csv", ORDERS, [])
    header = "event_id,event_type,occurred_at,customer_id,properties"
    e1 = 'E1,review,2024-01-01T10:00:00Z,C1,"{""rating"": 5}"'
    write(root / "events" / "d1.csv", header, [e1])
    ingest(con, root, "events", DAY1)
    # Same event again (the JSON spelled differently), twice; and E1 with other content.
    write(
        root / "events" / "d2.csv",
        header,
        [
            'E1,review,2024-01-01T10:00:00Z,C1,"{ ""rating"":5 }"',
            e1,
            "E2,page_view,2024-01-02T10:00:00Z,C1,",
            "E2,page_view,2024-01-02T10:00:00Z,C1,",
            "E1,review,2024-01-01T10:00:00Z,C2,",
        ],
    )
    stats = ingest(con, root, "events", DAY2)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate, stats.rows_quarantined) == (
        5,
        1,
        3,
        1,
    )
    assert table(con, "SELECT event_id, customer_id FROM raw.events ORDER BY 1") == [
        ("E1", "C1"),
        ("E2", "C1"),
    ]


def test_future_rows_are_quarantined_but_a_backfill_keeps_later_rows(tmp_path):
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(
        root / "orders.csv",
        ORDERS,
        [
            "O1,C1,2030-01-02T23:00:00Z,10,paid,,",
            "O2,C1,2030-01-03T00:00:01Z,10,paid,,",
        ],
    )
    con = duckdb.connect()
    # A daily run for 2030-01-01 at 06:00: the cutoff is the end of 2030-01-02.
    stats = ingest_entity(
        con, discover_landing(root), "orders", dt.date(2030, 1, 1), now=dt.datetime(2030, 1, 1, 6)
    )
    assert stats.quarantine_reasons == {"future_timestamp": 1}
    # A backfill of an old day, run in 2030: the same rows are real, not future.
    con = duckdb.connect()
    stats = ingest_entity(
        con, discover_landing(root), "orders", dt.date(2024, 1, 1), now=dt.datetime(2030, 1, 5)
    )
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 0)


def test_every_read_is_fully_accounted_for_in_tables_and_log(shop):
    con = duckdb.connect()
    write(
        shop / "orders" / "2024-01-02.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",  # duplicate of day 1
            "O6,C1,2024-01-02T09:00:00Z,-1,paid,,",
            "O7,C1,2024-01-02T09:00:00Z,1,paid,,",
            "O7,C1,2024-01-02T09:00:00Z,1,paid,,",
        ],
    )
    for entity in ("customers", "orders"):
        ingest(con, shop, entity, DAY2)
    log = table(
        con,
        """
        SELECT l.source_file, l.rows_read, l.rows_loaded, l.rows_quarantined, l.rows_duplicate,
               (SELECT count(*) FROM raw.orders o WHERE o._source_file = l.source_file),
               (SELECT count(*) FROM raw.quarantine q WHERE q.source_file = l.source_file)
        FROM raw.ingest_log l WHERE entity = 'orders' ORDER BY 1""",
    )
    assert log == [
        ("orders/2024-01-01.csv", 3, 2, 1, 0, 2, 1),
        ("orders/2024-01-02.csv", 4, 1, 1, 2, 1, 1),
    ]
    for _, read, loaded, quarantined, duplicate, in_raw, in_quarantine in log:
        assert read == loaded + quarantined + duplicate
        assert (in_raw, in_quarantine) == (loaded, quarantined)


def test_share_bad_and_threshold_and_metadata(shop):
    con = duckdb.connect()
    stats = ingest(con, shop, "orders", DAY1)
    assert stats.share_bad == pytest.approx(1 / 3)
    assert stats.exceeds(0.05) and not stats.exceeds(0.5)
    meta = stats.to_metadata()
    assert meta["rows_read"] == 3 and meta["rows_quarantined"] == 1
    assert meta["share_bad"] == pytest.approx(1 / 3, abs=1e-6)
    assert meta["quarantine_reasons"] == {"bad_number": 1}
    assert meta["files"][0]["source_file"] == "orders/2024-01-01.csv"
    import dagster as dg

    # Dagster accepts the dict as it is.
    dg.MaterializeResult(metadata=meta)
    empty = ingest(con, shop, "events", DAY1)
    assert (empty.rows_read, empty.share_bad, empty.exceeds(0.0)) == (0, 0.0, False)


def test_files_read_together_are_one_batch(tmp_path):
    """New files of one call form the batch: a same-version conflict across them quarantines
    every version, and an order's lines re-sent unchanged by a later file are duplicates."""
    con = duckdb.connect()
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(root / "orders" / "d1.csv", ORDERS, ["O1,C1,2024-01-01T09:00:00Z,40,paid,,"])
    write(root / "orders" / "d2.csv", ORDERS, ["O1,C1,2024-01-01T09:00:00Z,45,paid,,"])
    write(root / "order_items" / "d1.csv", ITEMS, ["O1,P1,1,5", "O1,P2,2,3"])
    write(root / "order_items" / "d2.csv", ITEMS, ["O1,P2,2,3", "O1,P1,1,5"])
    write(root / "order_items" / "d3.csv", ITEMS, ["O1,P1,1,5"])
    orders = ingest(con, root, "orders", DAY1)
    assert orders.quarantine_reasons == {"conflicting_duplicate": 2}
    details = table(con, "SELECT DISTINCT detail FROM raw.quarantine")
    expected = (
        "order_id 'O1' has different rows with the same updated_at "
        "(orders/d1.csv:1, orders/d2.csv:1)"
    )
    assert details == [(expected,)]
    items = ingest(con, root, "order_items", DAY1)
    assert [(f.rows_loaded, f.rows_duplicate) for f in items.files] == [(2, 0), (0, 2), (1, 0)]


def test_chunking_does_not_change_the_result(tmp_path, monkeypatch):
    from retention_pipeline.ingestion import load

    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, ["C1,a@x.com,"])
    write(
        root / "orders" / "d1.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
            "O2,C1,2024-01-01T10:00:00Z,-5,paid,,",
        ],
    )
    write(
        root / "orders" / "d2.csv",
        ORDERS,
        [
            "O1,C1,2024-01-01T09:00:00Z,40,refunded,40,2024-01-02T09:00:00Z",
            "O1,C1,2024-01-01T09:00:00Z,40,paid,,2024-01-01T09:00:00Z",
            "O3,C1,2024-01-02T10:00:00Z,7,paid,,",
        ],
    )
    write(root / "order_items" / "d1.csv", ITEMS, ["O1,P1,1,5", "O3,P1,2,5"])
    write(root / "order_items" / "d2.csv", ITEMS, ["O1,P1,1,5", "O3,P1,3,5"])
    results = []
    for chunk_bytes in (load.CHUNK_BYTES, 1):  # all files together; one file per chunk
        monkeypatch.setattr(load, "CHUNK_BYTES", chunk_bytes)
        con = duckdb.connect()
        stats = [ingest(con, root, e, DAY1) for e in ("customers", "orders", "order_items")]
        results.append(
            (
                [
                    (f.source_file, f.rows_loaded, f.rows_quarantined, f.rows_duplicate)
                    for s in stats
                    for f in s.files
                ],
                table(con, "SELECT * EXCLUDE (_ingested_at) FROM raw.orders ORDER BY ALL"),
                table(con, "SELECT * EXCLUDE (_ingested_at) FROM raw.order_items ORDER BY ALL"),
                table(con, "SELECT * EXCLUDE (_ingested_at) FROM raw.quarantine ORDER BY ALL"),
            )
        )
    assert results[0] == results[1]
    assert results[0][0][1:3] == [("orders/d1.csv", 1, 1, 0), ("orders/d2.csv", 2, 0, 1)]


def test_a_structural_error_in_a_chunk_writes_none_of_its_files(tmp_path):
    con = duckdb.connect()
    root = tmp_path / "landing"
    write(root / "customers.csv", CUSTOMERS, [])
    write(root / "orders" / "d1.csv", ORDERS, ["O1,C1,2024-01-01T09:00:00Z,40,paid,,"])
    write(root / "orders" / "d2.csv", "order_id,customer_id,ordered_at", ["O2,C1,2024-01-02"])
    from retention_pipeline.ingestion import LandingError

    with pytest.raises(LandingError, match="orders/d2.csv: missing required column 'total_amount'"):
        ingest(con, root, "orders", DAY1)
    assert table(con, "SELECT count(*) FROM raw.orders") == [(0,)]
    write(root / "orders" / "d2.csv", ORDERS, ["O2,C1,2024-01-02T09:00:00Z,4,paid,,"])
    stats = ingest(con, root, "orders", DAY1)
    assert [f.rows_loaded for f in stats.files] == [1, 1]


def test_generated_daily_drops_load_as_versions_of_the_single_file_shop(
    tmp_path, monkeypatch, ingestion_slices
):
    """The sample generator's daily drops re-send changed orders; ingested together they hold, as
    the latest version of each order, exactly the rows of the single-file shop."""
    if ingestion_slices == "sliced":
        monkeypatch.setattr("retention_pipeline.ingestion.load.SLICE_ROWS", 500)
    from retention_pipeline.generator import generate_shop

    whole, daily = tmp_path / "whole", tmp_path / "daily"
    generate_shop(whole, customers=300, seed=3, end=DAY3, history_days=60)
    generate_shop(daily, customers=300, seed=3, end=DAY3, history_days=60, split_daily=True)
    latest = {}
    for name, root in (("whole", whole), ("daily", daily)):
        con = duckdb.connect()
        for entity in ("customers", "products", "orders", "order_items", "events"):
            stats = ingest(con, root, entity, DAY3)
            assert stats.rows_quarantined == 0, (name, entity, stats.quarantine_reasons)
        latest[name] = table(
            con,
            """
            SELECT * EXCLUDE (_source_file, _source_line, _batch_date, _ingested_at, _extra)
            FROM raw.orders
            QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1
            ORDER BY order_id""",
        )
    assert len(latest["whole"]) > 100
    assert latest["daily"] == latest["whole"]


def test_a_file_read_in_slices_reports_each_slice(shop, ingestion_slices):
    """A first load of 100 M events takes minutes: a line after each slice (the Dagster asset
    logs them, `retention run` prints them); a file read at once says nothing."""
    lines: list[str] = []
    ingest_entity(duckdb.connect(), discover_landing(shop), "orders", DAY1,
                  now=dt.datetime(2024, 1, 1, 6), progress=lines.append)
    if ingestion_slices == "whole":
        assert lines == []
    else:  # slices of two rows: the file's three rows in two slices
        assert lines == [
            "orders: slice 1 of 2 checked (2 of 3 rows of 1 file(s))",
            "orders: slice 2 of 2 checked (3 of 3 rows of 1 file(s))",
            "orders: settling the rows that may repeat another slice's",
        ]
