"""The history tables in the DuckDB serving file: only the days built since the last publish, and
the days whose row counts differ, are compared with the warehouse (serving/days.py)."""

import datetime as dt
from pathlib import Path

import duckdb

from retention_pipeline.serving import duckdb_file
from retention_pipeline.serving.days import (
    HistoryDays,
    days_to_compare,
    history_day_columns,
    record_history_build,
)
from retention_pipeline.serving.log import record_publish
from retention_pipeline.serving.tables import Mart, served_marts, warehouse_reader

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)
HISTORY = {"history": "as_of_date"}


def _publish(warehouse: Path, serving: Path, days) -> dict[str, int]:
    with warehouse_reader(warehouse) as con:
        marts = served_marts(con, frozenset(), False)
        return duckdb_file.publish_duckdb_file(con, marts, serving, HistoryDays(HISTORY, days))


def _values(path: Path, day: dt.date) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select customer_id, score from marts.history where as_of_date = ? "
                           "order by all", [day]).fetchall()


def test_a_history_table_is_compared_on_the_given_days_and_those_whose_counts_differ(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.history as select d::date as as_of_date, i as customer_id, "
                    "i * 1.5 as score from range(100) t(i), (values (?), (?)) days(d)", [D1, D2])
        con.execute("create table marts.other as select 1 as k")
    assert _publish(warehouse, serving, None) == {"history": 200, "other": 1}

    with duckdb.connect(str(warehouse)) as con:
        # D1 changes behind the pipeline's back (same count, not built): trusted, not compared
        con.execute("update marts.history set score = -1 where as_of_date = ? and customer_id = 7",
                    [D1])
        con.execute("delete from marts.history where as_of_date = ? and customer_id = 8", [D2])
        con.execute("insert into marts.history select ?::date, i, 0.5 from range(50) t(i)", [D3])
    # D3 was built; D2 lost a row: both compared; D1 kept as published
    assert _publish(warehouse, serving, {D3}) == {"history": 50, "other": 0}
    assert (7, 10.5) in _values(serving, D1)
    for day in (D2, D3):
        assert _values(serving, day) == _values(warehouse, day)

    # without a publish on record every day is compared
    assert _publish(warehouse, serving, None) == {"history": 1, "other": 0}
    assert _values(serving, D1) == _values(warehouse, D1)


def test_the_days_to_compare_are_those_built_since_the_last_publish_and_the_day_published(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    published_at = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        assert days_to_compare(con, "serving", D3) is None  # nothing on record
        record_history_build(con, D1, now=dt.datetime(2026, 3, 2, 5, 0))
        record_history_build(con, D2, now=dt.datetime(2026, 3, 2, 7, 0))
    record_publish(warehouse, "serving", D1, published_at, [Mart("history", (), 200)])
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        assert days_to_compare(con, "serving", D3) == {D2, D3}
        assert days_to_compare(con, "postgres", D3) is None  # never published there


def test_the_history_tables_are_the_models_marked_in_the_dbt_yaml():
    from retention_pipeline.assets.dbt import prepare_manifest

    assert history_day_columns(prepare_manifest().manifest_path) == {
        "dim_customers_history": "as_of_date", "contact_log": "as_of_date"}
