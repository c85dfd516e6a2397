"""Streaming ingestion: a file larger than DuckDB's memory limit goes through within it, a crash
mid-file leaves nothing of the file, and duplicates are settled across the whole file whatever
its row groups (retention_pipeline/ingestion/load.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.ingestion import discover_landing, ingest_entity

BATCH = dt.date(2024, 1, 31)
NOW = dt.datetime(2024, 1, 31, 6)
ROWS = 2_000_000


def _events_parquet(path: Path, rows: int, row_group_size: int = 20_000) -> None:
    """`rows` events E1..En with ~300 bytes of properties each, plus at the end: an exact copy of
    E5 (a duplicate, rows groups away from it), E7 with other content (a conflict: both go to
    quarantine) and a row without id (missing_key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    event = """'E' || i AS event_id, 'page_view' AS event_type,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL 1 SECOND AS occurred_at,
               'C' || (i % 1000) AS customer_id,
               '{"path": "/p/' || i || '", "pad": "' || repeat('x', 280) || '"}' AS properties"""
    con.execute(f"""
        COPY (
            SELECT * FROM (SELECT i, {event} FROM range(1, {rows + 1}) r(i))
            UNION ALL SELECT * FROM (SELECT {rows + 1} AS i, {event} FROM range(5, 6) r(i))
            UNION ALL SELECT {rows + 2}, 'E7', 'review', TIMESTAMPTZ '2024-01-02 00:00:00+00',
                             'C7', '{{}}'
            UNION ALL SELECT {rows + 3}, NULL, 'page_view', TIMESTAMPTZ '2024-01-02 00:00:00+00',
                             'C7', NULL
            ORDER BY i
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE {row_group_size})
    """)
    con.close()


def _landing(root: Path) -> Path:
    (root / "customers.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "customers.csv").write_text("customer_id\n")
    (root / "orders.csv").write_text("order_id,customer_id,ordered_at,total_amount\n")
    return root


_CHILD = textwrap.dedent("""
    import datetime as dt, json, os, signal, sys
    import duckdb
    from retention_pipeline.ingestion import discover_landing, ingest_entity, load

    warehouse, landing, temp, memory, kill, slice_rows = sys.argv[1:7]
    if slice_rows != "default":
        load.SLICE_ROWS = int(slice_rows)
    con = duckdb.connect(warehouse)
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute("SET threads = 2")
    con.execute(f"SET temp_directory = '{temp}'")
    # stdout carries the stats: no progress bar drawn into it on a slow machine
    con.execute("SET enable_progress_bar = false")

    class KillBeforeCommit:
        # A crash inside the file's transaction: raw rows written, ingest_log not yet, no commit.
        def __init__(self, con): self._con = con
        def __getattr__(self, name): return getattr(self._con, name)
        def executemany(self, *args):
            os.kill(os.getpid(), signal.SIGKILL)

    target = KillBeforeCommit(con) if kill == "kill" else con
    stats = ingest_entity(target, discover_landing(landing), "events", dt.date(2024, 1, 31),
                          now=dt.datetime(2024, 1, 31, 6))
    print(json.dumps([stats.rows_read, stats.rows_loaded, stats.rows_quarantined,
                      stats.rows_duplicate, stats.quarantine_reasons]))
    # Peak RSS of this program (VmHWM; ru_maxrss would count the forking parent's).
    with open("/proc/self/status") as status:
        print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
""")


def _ingest_in_child(tmp_path: Path, memory: str, kill: bool = False, slice_rows=None):
    """Runs the ingestion in a fresh process; (its stats or None, its peak RSS in MB)."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "warehouse.duckdb"),
         str(tmp_path / "landing"), str(tmp_path / "spill"), memory, "kill" if kill else "no",
         str(slice_rows or "default")],
        capture_output=True, text=True, check=False, timeout=900,
    )
    if kill:
        assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
        return None, None
    assert result.returncode == 0, result.stderr[-3000:]
    stats, peak_kb = result.stdout.strip().splitlines()[-2:]
    return json.loads(stats), int(peak_kb) / 1024


@pytest.fixture(scope="module")
def big_landing(tmp_path_factory) -> Path:
    root = _landing(tmp_path_factory.mktemp("big") / "landing")
    _events_parquet(root / "events" / "history.parquet", ROWS)
    return root


# The file as one slice, and in slices of 300,000 rows (as load.py reads a file of 100 M rows):
# the duplicate and the conflict are then in other slices than the rows they repeat.
@pytest.mark.parametrize("slice_rows", [None, 300_000], ids=["one_slice", "sliced"])
def test_a_file_far_larger_than_the_memory_limit_is_ingested_within_it(
    tmp_path, big_landing, slice_rows
):
    os.symlink(big_landing, tmp_path / "landing")
    stats, peak_mb = _ingest_in_child(tmp_path, "128MB", slice_rows=slice_rows)
    # ~700 MB of text (2 M rows x ~340 bytes) through a 128 MB DuckDB (2 threads): every row accounted for,
    # the duplicate and the conflict found although a hundred row groups apart. (DuckDB reads a
    # row group of each column at a time per thread: the limit must hold threads x the largest
    # row group, here ~7 MB, docs/operations.md.)
    assert stats == [ROWS + 3, ROWS - 1, 3, 1, {"conflicting_duplicate": 2, "missing_key": 1}]
    # The process (Python, DuckDB and its buffers) stays far below the data it read.
    assert peak_mb < 600, f"peak RSS {peak_mb:.0f} MB"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw.events").fetchone() \
        == (ROWS - 1, ROWS - 1)
    assert con.execute(
        "SELECT source_line, reason FROM raw.quarantine ORDER BY source_line"
    ).fetchall() == [(7, "conflicting_duplicate"), (ROWS + 2, "conflicting_duplicate"),
                     (ROWS + 3, "missing_key")]
    # The quarantined rows keep the row as sent.
    raw_row = con.execute(
        "SELECT raw_row FROM raw.quarantine WHERE source_line = ?", [ROWS + 2]
    ).fetchone()[0]
    assert json.loads(raw_row)["event_type"] == "review"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_text_file_far_larger_than_the_memory_limit_is_ingested_within_it(
    tmp_path, big_landing, fmt
):
    """CSV and JSON Lines go through a temp table of text (readers.py), which DuckDB spills
    beyond its limit: the same ~700 MB of events as text, through the same 128 MB, give the same
    outcome and positions as the Parquet file, in a process far smaller than the file."""
    root = _landing(tmp_path / "landing")
    events = root / "events" / f"history.{fmt}"
    events.parent.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT json"
    # An absent value stays absent (CSV: empty; JSON Lines: no key), as a shop's export has it.
    con.execute(f"""COPY (SELECT event_id, event_type, strftime(occurred_at, '%Y-%m-%dT%H:%M:%SZ')
                          AS occurred_at, customer_id, properties
                          FROM '{big_landing / "events" / "history.parquet"}')
                    TO '{events}' ({options})""")
    con.close()
    assert events.stat().st_size > 600e6
    # In slices of 500,000 rows: a text file's slices are ranges of its temp table's rows.
    stats, peak_mb = _ingest_in_child(tmp_path, "128MB", slice_rows=500_000)
    assert stats == [ROWS + 3, ROWS - 1, 3, 1, {"conflicting_duplicate": 2, "missing_key": 1}]
    assert peak_mb < 600, f"peak RSS {peak_mb:.0f} MB"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute(
        "SELECT source_line, reason FROM raw.quarantine ORDER BY source_line"
    ).fetchall() == [(7, "conflicting_duplicate"), (ROWS + 2, "conflicting_duplicate"),
                     (ROWS + 3, "missing_key")]


def test_a_crash_mid_file_leaves_nothing_and_the_next_run_loads_the_file_once(
    tmp_path, big_landing
):
    os.symlink(big_landing, tmp_path / "landing")
    _ingest_in_child(tmp_path, "256MB", kill=True, slice_rows=500_000)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    # Every slice's rows were inserted in the file's transaction before the kill: none survive.
    assert con.execute("SELECT count(*) FROM raw.events").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.ingest_log").fetchone()[0] == 0
    con.close()
    stats, _ = _ingest_in_child(tmp_path, "256MB")
    assert stats[:4] == [ROWS + 3, ROWS - 1, 3, 1]
    again, _ = _ingest_in_child(tmp_path, "256MB")  # the file is now known: nothing new
    assert again[:4] == stats[:4]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.events").fetchone()[0] == ROWS - 1
    assert con.execute("SELECT count(*) FROM raw.ingest_log").fetchone()[0] == 1


def test_an_exception_between_steps_rolls_back_the_whole_file(tmp_path):
    """An error after the rows went in (here: writing the ingest_log) undoes them."""
    root = _landing(tmp_path / "landing")
    _events_parquet(root / "events" / "history.parquet", 1000, row_group_size=100)
    con = duckdb.connect()

    class FailingLog:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def executemany(self, *args):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ingest_entity(FailingLog(con), discover_landing(root), "events", BATCH, now=NOW)
    counts = [con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0]
              for t in ("events", "quarantine", "ingest_log")]
    assert counts == [0, 0, 0]
    stats = ingest_entity(con, discover_landing(root), "events", BATCH, now=NOW)
    assert (stats.rows_read, stats.rows_loaded, stats.rows_duplicate) == (1003, 999, 1)
    assert con.execute("SELECT count(*) FROM raw.events").fetchone()[0] == 999


def test_order_lines_split_across_row_groups_are_one_set(tmp_path):
    """An order's lines are judged as a set against raw wherever the row groups cut them."""
    root = _landing(tmp_path / "landing")
    con = duckdb.connect()
    lines = """SELECT 'O' || (i // 3) AS order_id, 'P' || (i % 3) AS product_id, 1 AS quantity,
                      10.0 AS unit_price FROM range(0, 30) r(i)"""
    (root / "order_items").mkdir()
    con.execute(f"COPY ({lines}) TO '{root}/order_items/d1.parquet' "
                "(FORMAT parquet, ROW_GROUP_SIZE 4)")
    first = ingest_entity(con, discover_landing(root), "order_items", BATCH, now=NOW)
    assert (first.rows_loaded, first.rows_duplicate) == (30, 0)
    # Day 2 re-sends every order, with O4's third line changed: O4's whole set is new, the
    # other nine orders are duplicates, though row groups of 4 cut every set differently.
    changed = lines.replace("1 AS quantity", "CASE WHEN i = 14 THEN 2 ELSE 1 END AS quantity")
    con.execute(f"COPY ({changed}) TO '{root}/order_items/d2.parquet' "
                "(FORMAT parquet, ROW_GROUP_SIZE 4)")
    day2 = dt.date(2024, 2, 1)
    second = ingest_entity(con, discover_landing(root), "order_items", day2, now=NOW)
    assert (second.rows_read, second.rows_loaded, second.rows_duplicate) == (30, 3, 27)
    assert con.execute(
        "SELECT DISTINCT order_id FROM raw.order_items WHERE _batch_date = ?", [day2]
    ).fetchall() == [("O4",)]


def test_parquet_timestamps_are_checked_as_their_text_would_be(tmp_path):
    """Native TIMESTAMPTZ columns skip the text round trip: the same values sent as CSV text
    give the same raw rows and the same quarantine reasons and details."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""
        CREATE TABLE sent AS SELECT * FROM (VALUES
            ('O1', 'C1', TIMESTAMPTZ '2024-01-10 10:00:00.123456+00', 10.5,
             TIMESTAMPTZ '2024-01-11 10:00:00+00', NULL::TIMESTAMPTZ),
            ('O2', 'C1', TIMESTAMPTZ '1985-01-10 10:00:00+00', 10.5, NULL, NULL),
            ('O3', 'C1', TIMESTAMPTZ '2030-01-10 10:00:00+00', 10.5, NULL, NULL),
            ('O4', 'C1', TIMESTAMPTZ '2024-01-10 10:00:00+00', 10.5,
             TIMESTAMPTZ '2024-01-09 10:00:00+00', NULL),
            ('O5', 'C1', TIMESTAMPTZ '2024-01-10 10:00:00+00', 10.5, NULL,
             TIMESTAMPTZ '0500-03-01 10:00:00+00'),
            ('O6', 'C1', NULL, 10.5, NULL, NULL)
        ) v(order_id, customer_id, ordered_at, total_amount, shipped_at, updated_at)
    """)
    results = []
    for fmt in ("parquet", "csv"):
        root = _landing(tmp_path / fmt)
        (root / "orders.csv").unlink()
        select = "SELECT * FROM sent" if fmt == "parquet" else (
            "SELECT order_id, customer_id, CAST(ordered_at AS VARCHAR) AS ordered_at, "
            "total_amount, CAST(shipped_at AS VARCHAR) AS shipped_at, "
            "CAST(updated_at AS VARCHAR) AS updated_at FROM sent")
        options = "FORMAT parquet" if fmt == "parquet" else "HEADER"
        con.execute(f"COPY ({select}) TO '{root}/orders.{fmt}' ({options})")
        warehouse = duckdb.connect()
        stats = ingest_entity(warehouse, discover_landing(root), "orders", BATCH, now=NOW)
        results.append((
            stats.quarantine_reasons,
            warehouse.execute("SELECT * EXCLUDE (_source_file, _source_line, _ingested_at) "
                              "FROM raw.orders ORDER BY order_id").fetchall(),
            warehouse.execute("SELECT source_line, reason, detail, CAST(raw_row AS VARCHAR) "
                              "FROM raw.quarantine ORDER BY source_line").fetchall(),
        ))
    parquet, csv = results
    assert parquet == csv
    assert parquet[0] == {"absurd_value": 1, "future_timestamp": 1,
                          "delivery_before_order": 1, "missing_key": 1}
    assert [r[0] for r in parquet[1]] == ["O1", "O5"]
    assert parquet[1][1][13] == dt.datetime(500, 3, 1, 10)  # updated_at, in the year 500


def test_a_parquet_page_found_broken_while_streaming_names_the_file(tmp_path):
    """The footer reads fine, a data page does not: only the streaming pass finds out, and it
    names the file like any structural problem (nothing of it is written)."""
    from retention_pipeline.ingestion import LandingError

    root = _landing(tmp_path / "landing")
    (root / "orders.csv").unlink()
    path = root / "orders.parquet"
    duckdb.connect().execute(f"""
        COPY (SELECT 'O' || i AS order_id, 'C1' AS customer_id,
                     TIMESTAMPTZ '2024-01-01 00:00:00+00' AS ordered_at, 10.0 AS total_amount,
                     repeat('x', 50) AS coupon_code FROM range(200000) r(i))
        TO '{path}' (FORMAT parquet, COMPRESSION uncompressed)""")
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 4000] = b"\xff" * 4000
    path.write_bytes(bytes(data))
    con = duckdb.connect()
    with pytest.raises(LandingError, match="^orders.parquet: unreadable Parquet file") as raised:
        ingest_entity(con, discover_landing(root), "orders", BATCH, now=NOW)
    assert raised.value.file == "orders.parquet"
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.ingest_log").fetchone()[0] == 0
