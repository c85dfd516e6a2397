"""Acceptance: BI readers on every serving copy during a whole next-day `retention run`.

While the run for day 2 goes on, a reader holds the DuckDB serving file of day 1 open, a
PostgreSQL reader queries `marts` every second (a new transaction per query, as BI tools do) and
another holds a REPEATABLE READ transaction on `marts` until the run's swap has been seen waiting
for it, plus SERVING_HOLD_S seconds, and at least two minutes in all (HELD_AT_LEAST_S). The run
must exit 0 and log that it waited; no reader sees an error or a mix of the two days.
"""

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.warehouse import connect
from tests.support.serving_fixtures import PERSONAL, fresh_pg_database

pytestmark = pytest.mark.slow
RETENTION = str(Path(sys.executable).with_name("retention"))
DAY1, DAY2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
HOLD_S = float(os.environ.get("SERVING_HOLD_S", "3"))
HELD_AT_LEAST_S = 120.0
ALL_PERSONAL = PERSONAL | {"phone", "birthday", "push_token", "wechat_openid", "address"}


def _run(root: Path, day: dt.date, pg_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RETENTION, "run", "--landing", str(root / "landing"), "--warehouse",
         str(root / "warehouse.duckdb"), "--exports", str(root / "exports"), "--as-of",
         day.isoformat(), "--serving", str(root / "serving.duckdb"), "--serving-parquet",
         str(root / "parquet"), "--serving-postgres-url", pg_url],
        capture_output=True, text=True, cwd=root, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "RETENTION_REPORTING_TZ": "Europe/Berlin"},
    )


def _warehouse_counts(warehouse: Path) -> dict[str, int]:
    with connect(warehouse, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name <> 'serving_log' order by 1").fetchall()]
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def _counts_sql(tables: list[str]) -> str:
    """All counts in one statement: one snapshot, so a mix of two days would show."""
    return "select " + ", ".join(f'(select count(*) from marts."{t}")' for t in tables)


class PgPoller(threading.Thread):
    """Every second, a new connection and transaction, as a dashboard refresh."""

    def __init__(self, url: str, tables: list[str]):
        super().__init__(daemon=True)
        self.url, self.sql, self.seen, self.errors = url, _counts_sql(tables), [], []
        self.stop = threading.Event()

    def run(self):
        import psycopg

        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as con:
                    self.seen.append(con.execute(self.sql).fetchone())
            except Exception as exc:  # noqa: BLE001 - every error is a finding
                self.errors.append(repr(exc))
            self.stop.wait(1.0)


def _swap_waiting(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        return con.execute(
            "select count(*) from pg_stat_activity where application_name = 'retention-serving' "
            "and wait_event_type = 'Lock'").fetchone()[0] > 0


def _served_differences(warehouse: Path, serving: Path) -> dict[str, int]:
    """Per served table, the rows (of its served columns) in one copy and not in the other."""
    differences = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        con.execute(f"attach '{serving}' as s (read_only)")
        for (table,) in con.execute("select table_name from information_schema.tables "
                                    "where table_catalog = 's' and table_schema = 'marts'").fetchall():
            columns = ", ".join(f'"{c}"' for (c,) in con.execute(
                "select column_name from information_schema.columns where table_catalog = 's' "
                "and table_schema = 'marts' and table_name = ? order by ordinal_position", [table]
            ).fetchall())
            left, right = (f'select {columns} from {c}.marts."{table}"' for c in ("w", "s"))
            extra = con.execute(f"select (select count(*) from ({left} except all {right})) + "
                                f"(select count(*) from ({right} except all {left}))").fetchone()[0]
            if extra:
                differences[table] = extra
    return differences


def test_readers_during_a_next_day_run(tmp_path):
    import psycopg

    from retention_pipeline.generator import generate_shop

    generate_shop(tmp_path / "landing", customers=1000, seed=11, end=DAY2)
    with fresh_pg_database() as url:
        reader_url = url.replace("postgres@", "retention_reader@")
        first = _run(tmp_path, DAY1, url)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        day1 = _warehouse_counts(tmp_path / "warehouse.duckdb")
        tables = sorted(day1)

        serving_reader = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
        held_sql = _counts_sql(tables)
        served_day1 = serving_reader.execute(held_sql).fetchone()
        holder = psycopg.connect(reader_url)
        holder.execute("begin isolation level repeatable read")
        held_day1 = holder.execute(held_sql).fetchone()
        held_since = time.monotonic()
        assert served_day1 == held_day1 == tuple(day1[t] for t in tables)
        poller = PgPoller(reader_url, tables)
        poller.start()

        outcome: dict = {}
        runner = threading.Thread(target=lambda: outcome.update(r=_run(tmp_path, DAY2, url)))
        runner.start()
        duck_seen, waited = [], False
        while runner.is_alive():
            duck_seen.append(serving_reader.execute(held_sql).fetchone())
            if not waited and _swap_waiting(url):
                waited = True
                time.sleep(max(HOLD_S, HELD_AT_LEAST_S - (time.monotonic() - held_since)))
                assert holder.execute(held_sql).fetchone() == held_day1  # still the old day
                holder.rollback()
            time.sleep(0.5)
        holder.close()
        poller.stop.set()
        poller.join(10)

        result = outcome["r"]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert waited, "the swap was never seen waiting for the REPEATABLE READ reader"
        assert "PostgreSQL swap waiting" in result.stderr
        assert "serving postgres: PostgreSQL" in result.stdout
        assert f"serving duckdb: {tmp_path / 'serving.duckdb'}" in result.stdout

        day2 = _warehouse_counts(tmp_path / "warehouse.duckdb")
        expected = {tuple(day1[t] for t in tables), tuple(day2[t] for t in tables)}
        assert len(expected) == 2, "day 2 changed no mart: the test could not see a mix"
        assert poller.errors == []
        assert poller.seen and set(poller.seen) <= expected
        assert set(duck_seen) == {served_day1}
        serving_reader.close()

        # New connections see the new day, with the warehouse's rows and no personal data.
        with duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True) as con:
            assert con.execute(held_sql).fetchone() == tuple(day2[t] for t in tables)
            columns = {r[0] for r in con.execute(
                "select column_name from information_schema.columns").fetchall()}
            assert con.execute("select max(as_of_date) from marts.campaign_candidates"
                               ).fetchone()[0] in (DAY2, None)
        assert not columns & ALL_PERSONAL
        # Day 2 was written into a copy of day 1's file, only the rows that differ: every table
        # holds exactly the warehouse's rows (the history tables' two days included).
        assert _served_differences(tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb") == {}
        with psycopg.connect(reader_url) as con:
            assert con.execute(held_sql).fetchone() == tuple(day2[t] for t in tables)
            pg_columns = {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'")}
        assert not pg_columns & ALL_PERSONAL
        with duckdb.connect() as con:
            for table in tables:
                path = tmp_path / "parquet" / f"{table}.parquet"
                assert con.execute(f"select count(*) from '{path}'").fetchone()[0] == day2[table]
                names = {r[0] for r in con.execute(f"describe select * from '{path}'").fetchall()}
                assert not names & ALL_PERSONAL
        with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
            logged = con.execute(
                'select target, "table", "rows" from marts.serving_log where as_of_date = ?',
                [DAY2]).fetchall()
        assert {(target, table) for target, table, _ in logged} == {
            (target, t) for target in ("serving", "postgres", "parquet") for t in tables}
        assert all(rows == day2[table] for _, table, rows in logged)
