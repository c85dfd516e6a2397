"""When a dbt build may be incremental, and from where (retention_pipeline/build_state.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from retention_pipeline.build_state import plan_build, record_end, record_start
from retention_pipeline.warehouse import open_duckdb

D = dt.date(2026, 11, 10)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


@pytest.fixture
def con(tmp_path):
    con = open_duckdb(tmp_path / "w.duckdb")
    con.execute("create schema raw")
    con.execute("create table raw.orders (order_id varchar, _batch_date date, _ingested_at timestamp)")
    yield con
    con.close()


def load(con, batch: dt.date, at: str) -> None:
    con.execute("insert into raw.orders values ('o', ?, ?)", [batch, dt.datetime.fromisoformat(at)])


def build(con, as_of, key="k", full=False, status="succeeded", build_id=None):
    plan = plan_build(con, build_id or f"{as_of}-{status}-{key}-{full}", as_of, key, full)
    record_start(con, plan)
    record_end(con, plan.build_id, status)
    return plan


def test_daily_builds_are_incremental_from_the_last_success(con):
    load(con, day(0), "2026-11-10 06:00")
    first = build(con, day(0))
    assert (first.mode, first.reason) == ("full", "no earlier successful build")
    load(con, day(1), "2026-11-11 06:00")
    second = build(con, day(1))
    assert second.mode == "incremental"
    # From the first build: its as-of date and what raw held when it started.
    assert (second.since_as_of, second.since_watermark) == (day(0), dt.datetime(2026, 11, 10, 6))
    assert second.dbt_vars() == {"incremental_since_as_of": "2026-11-10",
                                 "incremental_since_ingested": "2026-11-10 06:00:00"}
    assert second.dbt_args() == [] and first.dbt_args() == ["--full-refresh"]
    # A re-run of the same day (a new file came in) is incremental too.
    assert build(con, day(1)).mode == "incremental"


def test_full_refresh_on_request_settings_change_and_backfill(con):
    load(con, day(0), "2026-11-10 06:00")
    build(con, day(0))
    assert build(con, day(1), full=True).reason == "full refresh requested"
    assert build(con, day(2), key="other").reason == "settings or dbt project changed"
    assert build(con, day(3), key="other").mode == "incremental"
    backfill = build(con, day(1), key="other")
    assert backfill.mode == "full" and "backfill" in backfill.reason
    # The next daily run catches up from the backfill's as-of date.
    after = build(con, day(4), key="other")
    assert (after.mode, after.since_as_of) == ("incremental", day(1))


def test_a_failed_or_partial_build_is_never_a_starting_point(con):
    load(con, day(0), "2026-11-10 06:00")
    build(con, day(0))
    load(con, day(2), "2026-11-12 06:00")
    build(con, day(2), status="failed")
    # Models may be at day 2 already: an earlier as-of date cannot be reached incrementally...
    assert build(con, day(1)).mode == "full"
    build(con, day(3), status="partial")
    assert build(con, day(2)).mode == "full"
    # ...and a later one starts from the last success.
    later = build(con, day(5))
    assert (later.mode, later.since_as_of) == ("incremental", day(2))


def test_an_earlier_first_batch_forces_a_full_refresh(con):
    load(con, day(5), "2026-11-15 06:00")
    build(con, day(5))
    load(con, day(1), "2026-11-16 06:00")  # raw loaded for an earlier day without a dbt build
    assert build(con, day(6)).reason == "the first raw batch changed"
