"""Reading the shop's own PostgreSQL / MariaDB (setting source_url), incrementally.

Real servers on 127.0.0.1 (each test makes a database of its own, skipped when the server is not
reachable), real dlt / SQLAlchemy reads, real DuckDB ingestion and, for the two-day story, a real
dbt run of fct_orders. Expected counts come from the rows the test itself put in the database.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from retention_pipeline.ingestion import ENTITIES
from retention_pipeline.ingestion.database import ShopDatabase, SourceError, ingest_from_database
from retention_pipeline.settings import SourceTable, load_settings
from retention_pipeline.warehouse import connect
from tests.support.pipeline import dbt, query
from tests.support.shop_database import create_shop_db, drop_shop_db, utc

LAG = dt.timedelta(hours=1)
DAY1, DAY2 = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
FIRST_ORDER = utc(2026, 11, 1, 8)


@pytest.fixture(params=["postgresql", "mariadb"])
def shop(request):
    db = create_shop_db(request.param)
    yield db
    drop_shop_db(db)


def order(i: int, ordered_at: dt.datetime, **overrides) -> dict:
    row = {
        "order_id": f"O{i:04d}", "customer_id": f"C{i % 30:03d}", "ordered_at": ordered_at,
        "total_amount": f"{10 + i % 50}.25", "status": "paid" if i % 2 else "completed",
        "refunded_amount": None, "currency": "EUR",
        "updated_at": (ordered_at + dt.timedelta(minutes=5)).replace(tzinfo=None),
    }
    return {**row, **overrides}


def items_of(orders: list[dict]) -> list[dict]:
    rows = []
    for o in orders:
        n = int(o["order_id"][1:]) if o["order_id"] and o["order_id"][1:].isdigit() else 1
        for line in range(1 + n % 2):
            rows.append({"order_id": o["order_id"], "product_id": f"P{(n + line) % 5}",
                         "quantity": 1 + line, "unit_price": "4.50"})
    return rows


def day1_rows() -> dict[str, list[dict]]:
    customers = [
        {"customer_id": f"C{i:03d}", "email": f"c{i}@example.com",
         "created_at": dt.datetime(2026, 10, 1) + dt.timedelta(hours=i),
         "accepts_email": i % 2 == 0, "loyalty_tier": "gold" if i % 7 == 0 else None,
         "updated_at": utc(2026, 10, 1) + dt.timedelta(hours=i)}
        for i in range(30)
    ]
    products = [{"product_id": f"P{i}", "name": f"Product {i}", "category": "tea",
                 "price": "4.50"} for i in range(5)]
    orders = [order(i, FIRST_ORDER + dt.timedelta(hours=2 * i)) for i in range(1, 201)]
    bad_at = utc(2026, 11, 2, 3)
    bad = [
        order(901, bad_at, order_id="O_NEG", total_amount="-5.00"),
        order(902, bad_at, order_id="O_ODD", status="on-hold-weird"),
        order(903, bad_at, order_id=None),
    ]
    events = [{"event_id": f"E{i:03d}", "event_type": "page_view",
               "occurred_at": FIRST_ORDER + dt.timedelta(hours=3 * i),
               "customer_id": f"C{i % 30:03d}", "properties": json.dumps({"page": i})}
              for i in range(40)]
    return {"customers": customers, "products": products, "orders": orders + bad,
            "order_items": items_of(orders), "events": events}


def load_all(shop, rows: dict[str, list[dict]]) -> None:
    for entity in ENTITIES:
        shop.insert(entity, rows.get(entity, []))


def ingest_day(shop, warehouse, day: dt.date) -> dict:
    source = ShopDatabase(shop.url)
    now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6))
    try:
        with connect(warehouse) as con:
            return {e: ingest_from_database(con, source, e, day, staging=warehouse.parent / "stg",
                                            lag=LAG, now=now) for e in ENTITIES}
    finally:
        source.close()


def log_rows(warehouse, day: dt.date) -> dict[str, tuple]:
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT entity, source_file, file_format, rows_read, rows_loaded, rows_quarantined, "
            "rows_duplicate, source_cursor FROM raw.ingest_log WHERE batch_date = ?", [day]
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def quarantine_rows(warehouse, level: str) -> list[tuple]:
    with connect(warehouse, read_only=True) as con:
        return con.execute(
            "SELECT reason, column_name FROM raw.quarantine WHERE entity = 'orders' "
            "AND level = ? ORDER BY reason", [level]).fetchall()


def in_window(rows: list[dict], start: dt.datetime) -> list[dict]:
    return [r for r in rows if r["updated_at"] is None or r["updated_at"] >= start]


def test_two_days_from_a_shop_database(shop, tmp_path):
    """Day 1 loads everything, bad rows quarantined with reasons; on day 2 only the refund, 50
    new orders, a row committed late inside the lag and the re-read lag window are read; fct_orders
    shows the refund and the new orders."""
    warehouse = tmp_path / "warehouse.duckdb"
    day1 = day1_rows()
    load_all(shop, day1)

    first = ingest_day(shop, warehouse, DAY1)
    for entity in ENTITIES:
        assert first[entity].rows_read == len(day1[entity]), entity
    assert first["orders"].rows_loaded == 201  # 200 good + the unknown status (kept, counted)
    assert first["orders"].quarantine_reasons == {"negative_amount": 1, "missing_key": 1}
    assert first["orders"].kept_anomalies["orders_unknown_status"] == 1
    assert quarantine_rows(warehouse, "kept") == [("unknown_status", "status")]
    log1 = log_rows(warehouse, DAY1)
    assert log1["orders"][:2] == ("db:orders", "database")
    cursor = max(o["updated_at"] for o in day1["orders"])
    assert log1["orders"][-1] == cursor
    with connect(warehouse, read_only=True) as con:
        reasons = con.execute(
            "SELECT reason, source_file, json_extract_string(raw_row, '$.total_amount') "
            "FROM raw.quarantine WHERE entity = 'orders' AND level = 'row' ORDER BY reason"
        ).fetchall()
        typed = con.execute(
            "SELECT ordered_at, total_amount, updated_at FROM raw.orders WHERE order_id = 'O0001'"
        ).fetchone()
        consent = con.execute(
            "SELECT accepts_email, created_at, _extra->>'loyalty_tier' FROM raw.customers "
            "WHERE customer_id = 'C000'").fetchone()
        props = con.execute(
            "SELECT properties->>'page' FROM raw.events WHERE event_id = 'E007'").fetchone()
    assert [r[:2] for r in reasons] == [("missing_key", "db:orders"),
                                        ("negative_amount", "db:orders")]
    assert float(reasons[1][2]) == -5.0
    o1 = day1["orders"][0]
    assert typed == (o1["ordered_at"].replace(tzinfo=None), pytest.approx(11.25),
                     o1["updated_at"])
    assert consent == (True, dt.datetime(2026, 10, 1), "gold")
    assert props == ("7",)

    # --- day 2: a refund, 50 new orders, and a row committed late with a stamp inside the lag
    refund_at = dt.datetime(2026, 11, 21, 9)
    shop.execute("UPDATE orders SET status = 'refunded', refunded_amount = total_amount, "
                 "updated_at = :at WHERE order_id = 'O0010'", at=refund_at)
    # A partial refund drops one of O0011's two lines: the order's lines are replaced as a set.
    dropped_at = dt.datetime(2026, 11, 21, 9, 30)
    shop.execute("DELETE FROM order_items WHERE order_id = 'O0011' AND product_id = 'P2'")
    shop.execute("UPDATE orders SET status = 'partially_refunded', refunded_amount = 9, "
                 "updated_at = :at WHERE order_id = 'O0011'", at=dropped_at)
    new = [order(i, utc(2026, 11, 21, 8) + dt.timedelta(minutes=i - 200)) for i in range(201, 251)]
    late = order(990, utc(2026, 11, 17, 12), order_id="O_LATE",
                 updated_at=cursor - dt.timedelta(minutes=10))
    shop.insert("orders", [*new, late])
    shop.insert("order_items", items_of([*new, late]))

    second = ingest_day(shop, warehouse, DAY2)
    after = [o for o in day1["orders"] if o["order_id"] not in ("O0010", "O0011")]
    changed = [{**day1["orders"][9], "updated_at": refund_at},
               {**day1["orders"][10], "updated_at": dropped_at}]
    window = in_window([*after, *changed, *new, late], cursor - LAG)
    # the last day-1 order (inside the lag), the two refunds, 50 new, the late one
    assert len(window) == 54
    orders2 = second["orders"]
    assert (orders2.rows_read, orders2.rows_loaded, orders2.rows_duplicate) == (54, 53, 1)
    log2 = log_rows(warehouse, DAY2)
    assert log2["orders"][2:6] == (54, 53, 0, 1)
    assert log2["orders"][-1] == dropped_at
    # Items follow their orders: the lines of every order read again; O0011's new set of one
    # line is loaded, the unchanged sets of O0010 and O0200 are duplicates.
    window_ids = {o["order_id"] for o in window}
    expected_items = [i for i in items_of([*day1["orders"][:200], *new, late])
                      if i["order_id"] in window_ids
                      and (i["order_id"], i["product_id"]) != ("O0011", "P2")]
    assert second["order_items"].rows_read == len(expected_items)
    assert second["order_items"].rows_loaded == len(items_of([*new, late])) + 1
    assert second["customers"].rows_loaded == 0
    assert second["products"].rows_duplicate == 5  # no stamp: read whole, same content

    dbt(["build", "--select", "+fct_orders", "stg_shop__order_items",
         "--exclude-resource-type", "test"], warehouse,
        {"as_of": DAY2.isoformat(), "reporting_tz": "UTC", "min_order_value": 0})
    fct = query(warehouse, "SELECT order_id, status, refunded_amount, net_amount, invalid_reason "
                           "FROM marts.fct_orders").set_index("order_id")
    assert len(fct) == 201 + 51
    assert fct.loc["O0010", "status"] == "refunded"
    assert float(fct.loc["O0010", "net_amount"]) == 0.0
    assert set(fct.index) >= {o["order_id"] for o in new} | {"O_LATE"}
    assert fct.loc["O_ODD", "invalid_reason"] == "unknown_status"
    assert float(fct.loc["O0011", "refunded_amount"]) == 9.0
    lines = query(warehouse, "SELECT order_id, product_id FROM staging.stg_shop__order_items "
                             "WHERE order_id IN ('O0011', 'O0013')").values.tolist()
    assert sorted(lines) == [["O0011", "P1"], ["O0013", "P3"], ["O0013", "P4"]]


def test_missing_table_or_column_stops_before_anything_is_written(shop, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shop.execute("ALTER TABLE orders DROP COLUMN total_amount")
    source = ShopDatabase(shop.url)
    with pytest.raises(SourceError) as err, connect(warehouse) as con:
        ingest_from_database(con, source, "customers", DAY1, staging=tmp_path, lag=LAG)
    message = str(err.value)
    assert "127.0.0.1" in message and "table orders" in message
    assert "'total_amount'" in message and err.value.column == "total_amount"
    with connect(warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw'"
                           ).fetchone() == (0,)
    shop.execute("DROP TABLE customers")
    with pytest.raises(SourceError, match="missing table 'customers'"):
        ShopDatabase(shop.url).check()


def test_mapping_renames_tables_and_columns(shop, tmp_path):
    rows = day1_rows()
    load_all(shop, {"customers": rows["customers"]})
    shop.execute("CREATE TABLE shop_orders (id VARCHAR(20), buyer VARCHAR(20), "
                 "created TIMESTAMP(6), total NUMERIC(12, 2), updated_at TIMESTAMP(6))")
    shop.execute("INSERT INTO shop_orders VALUES ('X1', 'C001', '2026-11-03 10:00:00', 12.50, "
                 "'2026-11-03 10:00:00')")
    mapping = {"orders": SourceTable(table="shop_orders", columns={
        "order_id": "id", "customer_id": "buyer", "ordered_at": "created",
        "total_amount": "total"})}
    source = ShopDatabase(shop.url, mapping)
    lines: list[str] = []
    with connect(tmp_path / "w.duckdb") as con:
        stats = ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG,
                                     progress=lines.append)
        row = con.execute("SELECT order_id, customer_id, total_amount, _source_file "
                          "FROM raw.orders").fetchall()
    source.close()
    assert (stats.rows_read, stats.rows_loaded) == (1, 1)
    assert lines == ["orders: 1 new or changed rows read from the shop database"]
    assert row == [("X1", "C001", pytest.approx(12.5), "db:shop_orders")]
    typo = {"orders": SourceTable(table="shop_orders", columns={
        **mapping["orders"].columns, "coupon_code": "coupon"})}
    with pytest.raises(SourceError, match="'coupon', which the table lacks") as err:
        ShopDatabase(shop.url, typo).check()
    assert err.value.column == "coupon" and "table shop_orders" in str(err.value)


def test_unreachable_host_names_the_host_not_the_password(tmp_path):
    source = ShopDatabase("postgresql+psycopg://shop@127.0.0.1:1/shop", password="s3cret")
    with pytest.raises(SourceError) as err:
        source.check()
    assert "127.0.0.1:1/shop" in str(err.value) and "table customers" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_settings_refuse_landing_with_source_url_and_a_password_on_disk(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="not both"):
        load_settings(landing=tmp_path, source_url="postgresql+psycopg://u@h/shop")
    config = tmp_path / "retention.toml"
    config.write_text('[retention]\nsource_url = "mysql+pymysql://u:hunter2@h/shop"\n')
    with pytest.raises(ValueError, match="RETENTION_SOURCE_PASSWORD") as err:
        load_settings(config=config)
    assert "hunter2" not in str(err.value)
    config.write_text('[retention]\nsource_url = "mysql+pymysql://u@h/shop"\n'
                      '[retention.source_mapping.orders]\ntable = "wp_orders"\n'
                      'columns = { order_id = "id" }\n')
    settings = load_settings(config=config)
    assert settings.source_mapping["orders"].columns == {"order_id": "id"}


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_raw_assets_read_the_database_when_source_url_is_set(dialect, tmp_path):
    """The Dagster raw assets take the database path: no landing folder, lineage db:<table>, the
    blocking quarantine check evaluated on the database rows."""
    import dagster as dg

    from retention_pipeline.assets.raw import build_raw_assets
    from retention_pipeline.partitions import daily_partitions

    db = create_shop_db(dialect)
    try:
        rows = day1_rows()
        load_all(db, rows)
        settings = load_settings(source_url=db.url, warehouse=tmp_path / "w.duckdb",
                                 exports=tmp_path / "exports")
        raw = build_raw_assets(settings, daily_partitions(settings))
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(raw, partition_key=DAY1.isoformat(), instance=instance)
    finally:
        drop_shop_db(db)
    assert result.success
    checks = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()}
    # 2 of 203 orders quarantined (1 %) is within the default 5 % threshold.
    assert checks == dict.fromkeys(ENTITIES, True)
    log = log_rows(tmp_path / "w.duckdb", DAY1)
    assert {e: (r[0], r[2]) for e, r in log.items()} == {
        e: (f"db:{e}", len(rows[e])) for e in ENTITIES}
    assert not (tmp_path / "landing").exists() and not any((tmp_path / "source_staging").iterdir())


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_a_run_that_fails_after_reading_keeps_the_cursor(dialect, tmp_path):
    """The write of the rows fails (a constraint of the warehouse table refuses one of them):
    nothing of the read is stored, the cursor stays, and the next run reads the same rows."""
    from retention_pipeline.ingestion.schema import raw_table_ddl

    db = create_shop_db(dialect)
    warehouse = tmp_path / "w.duckdb"
    try:
        rows = day1_rows()
        load_all(db, {"customers": rows["customers"], "orders": rows["orders"]})
        source = ShopDatabase(db.url)
        with connect(warehouse) as con:
            con.execute("CREATE SCHEMA raw")
            ddl = raw_table_ddl("orders")
            con.execute(ddl[: ddl.rindex(")")] + ", CHECK (order_id <> 'O0150'))")
            with pytest.raises(Exception, match="(?i)constraint"):
                ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG)
            assert con.execute("SELECT count(*) FROM raw.orders").fetchone() == (0,)
            assert con.execute("SELECT count(*) FROM raw.ingest_log").fetchone() == (0,)
            con.execute("DROP TABLE raw.orders")
            again = ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG)
        source.close()
    finally:
        drop_shop_db(db)
    assert (again.rows_read, again.rows_loaded) == (len(rows["orders"]), 201)


def test_unbounded_numeric_in_a_schema_of_its_own(tmp_path):
    """PostgreSQL NUMERIC without precision (no Arrow type holds it) arrives as its exact text;
    a schema other than public is reached through the URL's search_path option."""
    db = create_shop_db("postgresql", with_tables=False)
    try:
        db.execute("CREATE SCHEMA shop")
        db.execute("CREATE TABLE shop.customers (customer_id BIGINT)")
        db.execute("CREATE TABLE shop.orders (order_id BIGINT, customer_id BIGINT, "
                   "ordered_at TIMESTAMP, total_amount NUMERIC)")
        db.execute("INSERT INTO shop.customers VALUES (7)")
        db.execute("INSERT INTO shop.orders VALUES (1, 7, '2026-11-03 10:00', 12.345678901234), "
                   "(2, 7, '2026-11-03 11:00', 123456789012345678901234)")
        source = ShopDatabase(db.url + "?options=-csearch_path%3Dshop")
        with connect(tmp_path / "w.duckdb") as con:
            stats = ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG)
            loaded = con.execute("SELECT order_id, customer_id, CAST(total_amount AS VARCHAR) "
                                 "FROM raw.orders").fetchall()
            reasons = con.execute("SELECT reason FROM raw.quarantine").fetchall()
        source.close()
    finally:
        drop_shop_db(db)
    # DECIMAL(18,4) in raw, as for files; the absurd total is quarantined, not mangled.
    assert loaded == [("1", "7", "12.3457")]
    assert (stats.rows_read, reasons) == (2, [("absurd_value",)])


def test_the_password_comes_from_the_environment_and_stays_out_of_errors(tmp_path, monkeypatch):
    db = create_shop_db("mariadb", with_tables=False)
    try:
        monkeypatch.setenv("RETENTION_SOURCE_PASSWORD", "not-the-root-password")
        source = ShopDatabase.from_settings(load_settings(source_url=db.url))
        with pytest.raises(SourceError) as err:
            source.check()  # root has no password: a wrong one is refused
        source.close()
    finally:
        drop_shop_db(db)
    assert "Access denied" in str(err.value) and "127.0.0.1:3306" in str(err.value)
    assert "not-the-root-password" not in str(err.value)


def test_a_future_stamp_does_not_move_the_cursor_past_rows_to_come(tmp_path):
    db = create_shop_db("postgresql")
    try:
        rows = day1_rows()
        load_all(db, {"customers": rows["customers"], "orders": rows["orders"][:3]})
        db.execute("UPDATE orders SET updated_at = '2099-01-01' WHERE order_id = 'O0001'")
        source = ShopDatabase(db.url)
        with connect(tmp_path / "w.duckdb") as con:
            before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG)
            after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            # A row committed now with a current stamp is still read by the next run.
            db.insert("orders", [order(500, utc(2026, 11, 19, 8),
                                       updated_at=after - dt.timedelta(minutes=1))])
            again = ingest_from_database(con, source, "orders", DAY1, staging=tmp_path, lag=LAG)
            cursors = con.execute("SELECT source_cursor FROM raw.ingest_log ORDER BY ingested_at"
                                  ).fetchall()
        source.close()
    finally:
        drop_shop_db(db)
    assert before <= cursors[0][0] <= after
    assert again.rows_loaded == 1  # O0500; O0001 (stamped 2099) is read again as a duplicate
