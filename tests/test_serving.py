"""Serving copies on a small hand-made warehouse: atomic DuckDB file (readable by DuckDB 1.x),
PostgreSQL schema swap with a read-only role, Parquet files, personal data left out."""

import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.serving import duckdb_file, parquet, postgres
from retention_pipeline.serving.personal import personal_columns
from retention_pipeline.serving.tables import served_marts, warehouse_reader
from tests.support.serving_fixtures import PERSONAL, fresh_pg_database, write_day

DAY1, DAY2 = dt.date(2026, 1, 2), dt.date(2026, 1, 3)


def _publish(warehouse, fn, *args, serve_personal=False):
    with warehouse_reader(warehouse) as con:
        marts = served_marts(con, PERSONAL, serve_personal)
        result = fn(con, marts, *args)
    return marts, result


def _days_and_counts(con) -> tuple[set, int, int]:
    days = {r[0] for r in con.execute(
        "select as_of_date from marts.dim_customers union select as_of_date from marts.cohort_retention"
    ).fetchall()}
    return (days, con.execute("select count(*) from marts.dim_customers").fetchone()[0],
            con.execute("select count(*) from marts.cohort_retention").fetchone()[0])


@pytest.fixture(scope="module")
def dbt_manifest() -> Path:
    from retention_pipeline.assets.dbt import prepare_manifest

    return prepare_manifest().manifest_path


def test_personal_columns_come_from_the_dbt_yaml(dbt_manifest):
    assert personal_columns(dbt_manifest) == {
        "email", "phone", "first_name", "birthday", "push_token", "wechat_openid", "address"}


def test_masking_in_logs_covers_every_column_the_dbt_yaml_marks_personal(dbt_manifest):
    # The dbt YAML is the list; the masking of check samples (which runs on raw tables, before
    # any manifest is needed) keeps a copy, and this keeps the copy whole.
    from retention_pipeline.redact import PERSONAL_COLUMNS

    assert personal_columns(dbt_manifest) <= PERSONAL_COLUMNS


def test_duckdb_file_old_reader_keeps_old_day_new_connection_sees_new(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    old_reader = duckdb.connect(str(serving), read_only=True)
    before = _days_and_counts(old_reader)
    assert before == ({DAY1}, 51, 25)

    write_day(warehouse, DAY2)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    assert _days_and_counts(old_reader) == before  # the old inode: the old day, whole
    old_reader.close()
    with duckdb.connect(str(serving), read_only=True) as new_reader:
        assert _days_and_counts(new_reader) == ({DAY2}, 52, 26)
        columns = {r[0] for r in new_reader.execute(
            "select column_name from information_schema.columns").fetchall()}
    assert not columns & PERSONAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]


def test_duckdb_file_failed_publish_leaves_old_file_whole(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    marts, _ = _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    broken = [*marts, marts[0].__class__("no_such_table", marts[0].columns, 0)]
    with warehouse_reader(warehouse) as con, pytest.raises(duckdb.CatalogException):
        duckdb_file.publish_duckdb_file(con, broken, serving)
    with duckdb.connect(str(serving), read_only=True) as con:
        assert _days_and_counts(con) == ({DAY1}, 51, 25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]


def test_serve_personal_data_keeps_the_columns(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving, serve_personal=True)
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select count(email), count(first_name) from marts.dim_customers"
                           ).fetchone() == (51, 51)


def _orders_warehouse(warehouse: Path) -> None:
    """Three marts: orders (1,000 rows, one of them twice), small, gone."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.orders as select i as order_id, 'c' || (i % 97) as "
                    "customer_id, i * 1.25 as amount, case when i % 5 = 0 then 'gift' end as note "
                    "from range(999) t(i)")
        con.execute("insert into marts.orders select * from marts.orders where order_id = 7")
        con.execute("create table marts.small as select 1 as k union all select 2 union all select 3")
        con.execute("create table marts.gone as select 'x' as v union all select 'y'")


def _served_equals_warehouse(warehouse: Path, serving: Path) -> set[str]:
    """The served tables (each equal to the warehouse's, duplicates counted)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        con.execute(f"attach '{serving}' as s (read_only)")
        names = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = 's'").fetchall()}
        for name in names:
            for a, b in (("w", "s"), ("s", "w")):
                extra = con.execute(f"select count(*) from (select * from {a}.marts.{name} "
                                    f"except all select * from {b}.marts.{name})").fetchone()[0]
                assert extra == 0, f"{name}: {extra} rows of {a} not in {b}"
    return names


def test_duckdb_file_writes_only_the_rows_that_differ(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    _orders_warehouse(warehouse)
    assert _publish(warehouse, duckdb_file.publish_duckdb_file, serving)[1] == {
        "orders": 1000, "small": 3, "gone": 2}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.orders set amount = amount + 1 where order_id in (1, 2, 3, 4, 5)")
        con.execute("delete from marts.orders where order_id in (10, 11, 12)")
        con.execute("insert into marts.orders select i, 'new', 1.0, null from range(2000, 2004) t(i)")
        con.execute("insert into marts.orders select * from marts.orders where order_id = 7 limit 1")
        con.execute("drop table marts.gone")
        con.execute("alter table marts.small add column label varchar")
        con.execute("create table marts.added as select 42 as answer")
    _, written = _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    # 5 updated and 4 new rows, and order 7 three times (it was twice): deleted and inserted
    assert written == {"orders": 5 + 4 + 3, "small": 3, "added": 1}
    assert _served_equals_warehouse(warehouse, serving) == {"orders", "small", "added"}
    assert _publish(warehouse, duckdb_file.publish_duckdb_file, serving)[1] == {
        "orders": 0, "small": 0, "added": 0}


def test_duckdb_file_written_anew_over_an_unreadable_or_newer_format_file(tmp_path):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    _orders_warehouse(warehouse)
    serving.write_bytes(b"not a database at all")
    assert _publish(warehouse, duckdb_file.publish_duckdb_file, serving)[1]["orders"] == 1000
    serving.unlink()
    with duckdb.connect(str(serving)) as con:  # DuckDB 2.0's own storage: 1.x cannot read it
        con.execute("create schema marts")
        con.execute("create table marts.orders as select * from range(3)")
    assert _publish(warehouse, duckdb_file.publish_duckdb_file, serving)[1]["orders"] == 1000
    assert _served_equals_warehouse(warehouse, serving) == {"orders", "small", "gone"}
    with duckdb.connect() as con:
        con.execute(f"attach '{serving}' as s (read_only)")
        assert con.execute("select tags['storage_version'] from duckdb_databases() "
                           "where database_name = 's'").fetchone()[0].startswith("v1.0.0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]


@pytest.fixture(scope="session")
def duckdb1_python(pytestconfig, tmp_path_factory) -> Path:
    """A throwaway venv with DuckDB 1.x (what BI drivers embed), built once and cached (in a
    temporary folder when pytest runs without its cache)."""
    cache = getattr(pytestconfig, "cache", None)
    venv = Path(cache.mkdir("duckdb1-venv") if cache else tmp_path_factory.mktemp("duckdb1-venv"))
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "duckdb<2"],
                             capture_output=True, text=True, check=False)
        if pip.returncode != 0:
            pytest.skip(f"pip could not install duckdb<2 (registry unreachable?): {pip.stderr[-500:]}")
        (venv / ".ready").touch()
    return python


def test_duckdb_file_opens_in_duckdb_1x(tmp_path, duckdb1_python):
    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__, con.execute('select count(*), max(as_of_date) "
        "from marts.dim_customers').fetchone())"
    )
    out = subprocess.run([str(duckdb1_python), "-c", script, str(serving)],
                         capture_output=True, text=True, check=True).stdout
    version, rest = out.split(" ", 1)
    assert version.startswith("1."), out
    assert rest.strip() == "(51, datetime.date(2026, 1, 2))"
    # a day that changes a few rows: deleted and inserted in a copy of the file, still 1.x's
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.dim_customers set net_revenue = 0 where customer_id = 'c3'")
    assert _publish(warehouse, duckdb_file.publish_duckdb_file, serving)[1]["dim_customers"] == 1
    out = subprocess.run([str(duckdb1_python), "-c", script, str(serving)],
                         capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 1)[1].strip() == "(51, datetime.date(2026, 1, 2))"


def test_sqlalchemy_duckdb_engine_reads_the_serving_file_read_only(tmp_path):
    import sqlalchemy as sa

    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    # The URL Superset and other SQLAlchemy-based tools take.
    engine = sa.create_engine(f"duckdb:///{serving}?access_mode=read_only")
    with engine.connect() as con:
        assert con.execute(sa.text("select count(*) from marts.dim_customers")).scalar() == 51
        assert "dim_customers" in sa.inspect(con).get_table_names(schema="marts")
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            con.execute(sa.text("create table marts.t (i int)"))
    engine.dispose()


def test_parquet_files_replaced_atomically(tmp_path):
    warehouse, folder = tmp_path / "w.duckdb", tmp_path / "parquet"
    write_day(warehouse, DAY1)
    _publish(warehouse, parquet.publish_parquet, folder)
    write_day(warehouse, DAY2)
    marts, _ = _publish(warehouse, parquet.publish_parquet, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["cohort_retention.parquet",
                                                         "dim_customers.parquet"]
    assert parquet.parquet_counts(folder, [m.name for m in marts]) == {
        "cohort_retention": 26, "dim_customers": 52}
    with duckdb.connect() as con:
        names = {r[0] for r in con.execute(
            f"describe select * from '{folder}/dim_customers.parquet'").fetchall()}
    assert not names & PERSONAL


def _pg_publish(warehouse, url, timeout=30.0, log=print):
    return _publish(warehouse, postgres.publish_postgres, url, "retention_reader", timeout, log)


def _reader_url(url: str) -> str:
    return url.replace("postgres@", "retention_reader@")


def test_postgres_swap_and_read_only_role(tmp_path):
    import psycopg

    warehouse = tmp_path / "w.duckdb"
    write_day(warehouse, DAY1)
    with fresh_pg_database() as url:
        _pg_publish(warehouse, url)
        write_day(warehouse, DAY2)
        _, result = _pg_publish(warehouse, url)
        assert result.attempts == 1
        with psycopg.connect(_reader_url(url)) as reader:
            assert reader.execute("select count(*), max(as_of_date), count(distinct as_of_date) "
                                  "from marts.dim_customers").fetchone() == (52, DAY2, 1)
            # empty strings stay empty strings, nulls stay null (CSV quoting)
            assert reader.execute("select count(*) filter (where note = ''), count(note) "
                                  "from marts.dim_customers").fetchone() == (8, 8)
            columns = {r[0] for r in reader.execute(
                "select column_name from information_schema.columns where table_schema = 'marts'")}
            assert not columns & PERSONAL
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("insert into marts.dim_customers (customer_id) values ('x')")
        with psycopg.connect(url) as admin:
            schemas = {r[0] for r in admin.execute("select nspname from pg_namespace")}
            assert not {s for s in schemas if s.startswith("marts__")}
            grants = admin.execute(
                "select distinct privilege_type from information_schema.role_table_grants "
                "where grantee = 'retention_reader'").fetchall()
            assert grants == [("SELECT",)]


def test_postgres_swap_waits_for_a_repeatable_read_reader_then_retries(tmp_path):
    import psycopg

    warehouse = tmp_path / "w.duckdb"
    write_day(warehouse, DAY1)
    with fresh_pg_database() as url:
        _pg_publish(warehouse, url)
        write_day(warehouse, DAY2)
        holder = psycopg.connect(_reader_url(url))
        holder.execute("begin isolation level repeatable read")
        assert holder.execute("select max(as_of_date) from marts.dim_customers").fetchone() == (DAY1,)
        messages: list[str] = []
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.update(
            r=_pg_publish(warehouse, url, log=messages.append)[1]))
        thread.start()
        deadline = time.monotonic() + 60
        while not messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert messages, "the swap did not report waiting"
        # the holder still reads its old day, whole
        assert holder.execute("select count(*), max(as_of_date) from marts.dim_customers"
                              ).fetchone() == (51, DAY1)
        assert holder.execute("select max(as_of_date) from marts.cohort_retention"
                              ).fetchone() == (DAY1,)
        holder.rollback()
        holder.close()
        thread.join(60)
        assert outcome["r"].attempts > 1
        assert "waiting" in messages[0] and "retrying" in messages[0]
        with psycopg.connect(url) as admin:
            assert admin.execute("select max(as_of_date) from marts.dim_customers").fetchone() == (DAY2,)


def test_postgres_swap_gives_up_after_its_timeout_and_keeps_the_old_day(tmp_path):
    import psycopg

    warehouse = tmp_path / "w.duckdb"
    write_day(warehouse, DAY1)
    with fresh_pg_database() as url:
        _pg_publish(warehouse, url)
        write_day(warehouse, DAY2)
        with psycopg.connect(url) as holder:
            holder.execute("select 1 from marts.dim_customers limit 1")  # lock held, txn open
            with pytest.raises(TimeoutError, match="serving_postgres_swap_timeout"):
                _pg_publish(warehouse, url, timeout=2.0, log=lambda m: None)
            holder.rollback()
            assert holder.execute("select max(as_of_date) from marts.dim_customers").fetchone() == (DAY1,)
            schemas = {r[0] for r in holder.execute("select nspname from pg_namespace")}
            assert not {s for s in schemas if s.startswith("marts__")}


def test_postgres_unreachable_names_host_and_port(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    write_day(warehouse, DAY1)
    with pytest.raises(postgres.ServingUnavailable, match="127.0.0.1:1 unreachable"):
        _pg_publish(warehouse, "postgresql://postgres@127.0.0.1:1/test")


_KILLABLE_PUBLISH = """
import sys
from pathlib import Path
from retention_pipeline.serving import duckdb_file, postgres
from retention_pipeline.serving.tables import served_marts, warehouse_reader
with warehouse_reader(Path(sys.argv[1])) as con:
    marts = served_marts(con, frozenset(), False)
    if sys.argv[2] == "duckdb":
        duckdb_file.publish_duckdb_file(con, marts, Path(sys.argv[3]))
    else:
        postgres.publish_postgres(con, marts, sys.argv[3], "retention_reader", 60, print)
"""


def _kill_when(target: str, warehouse: Path, out: str, started) -> None:
    child = subprocess.Popen([sys.executable, "-c", _KILLABLE_PUBLISH, str(warehouse), target, out])
    deadline = time.monotonic() + 120
    while not started() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert child.poll() is None, "the publish ended before it could be killed"
    child.kill()
    child.wait()


def test_killed_publish_leaves_the_old_copies_whole(tmp_path):
    import psycopg

    warehouse, serving = tmp_path / "w.duckdb", tmp_path / "serving.duckdb"
    write_day(warehouse, DAY1)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)
    write_day(warehouse, DAY2, customers=3_000_000)  # big enough to be killed mid-write

    _kill_when("duckdb", warehouse, str(serving),
               lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir()))
    with duckdb.connect(str(serving), read_only=True) as con:
        assert _days_and_counts(con) == ({DAY1}, 51, 25)
    _publish(warehouse, duckdb_file.publish_duckdb_file, serving)  # the next run cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]

    with fresh_pg_database() as url:
        write_day(warehouse, DAY1)
        _pg_publish(warehouse, url)
        write_day(warehouse, DAY2, customers=3_000_000)

        def copying() -> bool:
            with psycopg.connect(url, autocommit=True) as con:
                return con.execute(
                    "select count(*) from pg_stat_activity where application_name = "
                    "'retention-serving' and query ilike 'copy%'").fetchone()[0] > 0

        _kill_when("postgres", warehouse, url, copying)
        with psycopg.connect(url) as con:
            assert con.execute("select count(*), max(as_of_date) from marts.dim_customers"
                               ).fetchone() == (51, DAY1)
            schemas = {r[0] for r in con.execute("select nspname from pg_namespace")}
            assert not {s for s in schemas if s.startswith("marts__")}
