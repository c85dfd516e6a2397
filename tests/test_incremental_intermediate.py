"""Incremental intermediate models and fct_orders on the cases a generated shop rarely makes
(docs/operations.md#incremental-runs): an order moving from one customer to another, a product
changing category, an order of an old day arriving late, a delivery stamped after the as-of day on
a version stamped before it. Each day the incrementally built warehouse must equal a full-refresh
copy of it, table by table (staging, intermediate, marts); test_incremental_equals_full.py covers
the generated shop with the Python steps.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from retention_pipeline.assets.dbt import finish_dbt_build, plan_dbt_build
from retention_pipeline.dbt_parse import run_vars_env
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.pipeline import dbt, ingest, write_csv
from tests.test_incremental_equals_full import _differences, _tables

pytestmark = pytest.mark.slow  # six real dbt builds

DAY0, DAY1, DAY2 = dt.date(2024, 6, 1), dt.date(2024, 6, 2), dt.date(2024, 6, 3)
ORDERS = "order_id,customer_id,ordered_at,total_amount,status,refunded_amount,updated_at,shipped_at,delivered_at"
ITEMS = "order_id,product_id,quantity,unit_price"
EVENTS = "event_id,event_type,occurred_at,customer_id,properties"
PRODUCTS = "product_id,name,category,price,updated_at"


def _props(**values) -> str:
    return '"' + json.dumps(values).replace('"', '""') + '"'


def _land_day0(landing: Path) -> None:
    write_csv(landing / "customers" / "day0.csv", "customer_id,country",
              ["a1,US", "a2,US", "a3,DE", "a4,DE"])
    write_csv(landing / "products" / "day0.csv", PRODUCTS,
              ["p1,Beans,coffee,10.00,2024-01-01T00:00:00Z", "p2,Tea,tea,8.00,2024-01-01T00:00:00Z"])
    write_csv(landing / "orders" / "day0.csv", ORDERS, [
        "A1,a1,2024-05-01T10:00:00Z,20.00,completed,,2024-05-01T10:00:00Z,,",
        "A2,a1,2024-05-10T10:00:00Z,8.00,completed,,2024-05-10T10:00:00Z,,",
        "B1,a2,2024-05-05T10:00:00Z,10.00,completed,,2024-05-05T10:00:00Z,,",
        "G1,,2024-05-20T10:00:00Z,10.00,completed,,2024-05-20T10:00:00Z,,",
        "D1,a4,2024-05-15T10:00:00Z,8.00,completed,,2024-05-15T10:00:00Z,,",
    ])
    write_csv(landing / "order_items" / "day0.csv", ITEMS,
              ["A1,p1,2,10.00", "A2,p2,1,8.00", "B1,p1,1,10.00", "G1,p1,1,10.00", "D1,p2,1,8.00"])
    write_csv(landing / "events" / "day0.csv", EVENTS, [
        # no order id: about the customer's latest sold order before it (A2, until A2 moves)
        f"e1,support_ticket,2024-05-12T09:00:00Z,a1,{_props(first_response_minutes=30)}",
        # no customer: the named order's customer (a2, until B1 moves)
        f"e2,complaint,2024-05-06T09:00:00Z,,{_props(order_id='B1')}",
        f"e3,return_requested,2024-05-07T09:00:00Z,a2,{_props(order_id='B1', product_id='p1')}",
    ])


def _land_day1(landing: Path) -> None:
    write_csv(landing / "orders" / "day1.csv", ORDERS, [
        # A2 and B1 move to other customers: both the old and the new customer are recomputed
        "A2,a2,2024-05-10T10:00:00Z,8.00,completed,,2024-06-02T08:00:00Z,,",
        "B1,a3,2024-05-05T10:00:00Z,10.00,completed,,2024-06-02T08:00:00Z,,",
        # a4's only order moves away: nothing else touches a4, whose occasion must go
        "D1,a2,2024-05-15T10:00:00Z,8.00,completed,,2024-06-02T08:00:00Z,,",
        # an order of an old day arriving late: a3's occasions are renumbered
        "C0,a3,2024-04-01T10:00:00Z,30.00,completed,,2024-04-01T10:00:00Z,,",
        # shipped and delivered after the end of DAY1, on a version stamped within it: counts
        # only from DAY2 on (the order is touched when the delivery crosses the as-of day)
        ("A1,a1,2024-05-01T10:00:00Z,20.00,completed,,2024-06-02T09:00:00Z,"
         "2024-06-03T08:00:00Z,2024-06-03T12:00:00Z"),
    ])
    write_csv(landing / "order_items" / "day1.csv", ITEMS, ["C0,p2,3,10.00"])
    # p1 changes category: the occasions of its buyers change their categories. p2 gets a version
    # stamped next month, ignored until then: after today its buyers are not recomputed for it.
    write_csv(landing / "products" / "day1.csv", PRODUCTS,
              ["p1,Beans,whole beans,10.00,2024-06-02T01:00:00Z",
               "p2,Tea,green tea,9.00,2024-07-01T00:00:00Z"])
    write_csv(landing / "events" / "day1.csv", EVENTS,
              [f"e4,support_ticket,2024-06-02T09:00:00Z,a3,{_props(order_id='C0')}"])


def _build(warehouse: Path, as_of: dt.date, full_refresh: bool) -> str:
    settings = load_settings(warehouse=warehouse, as_of=as_of)
    build_id = f"{warehouse.parent.name}-{as_of}-{full_refresh}-{dt.datetime.now().timestamp()}"
    plan = plan_dbt_build(settings, as_of, full_refresh, build_id)
    status = "failed"
    try:
        # the run's values through the environment, as the dbt asset passes them (dbt_parse.py)
        dbt(["build", "--exclude-resource-type", "test", *plan.dbt_args()], warehouse, {},
            env=run_vars_env({**settings.dbt_vars(as_of), **plan.dbt_vars()}))
        status = "succeeded"
    finally:
        finish_dbt_build(settings, build_id, status)
    return plan.mode


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


class _Days:
    """One warehouse built incrementally day by day, and a full-refresh copy of it each day."""

    def __init__(self, tmp_path: Path):
        self.landing = tmp_path / "landing"
        self.incremental = tmp_path / "incremental" / "w.duckdb"
        self.full = tmp_path / "full" / "w.duckdb"
        self.incremental.parent.mkdir()
        self.full.parent.mkdir()

    def build(self, as_of: dt.date) -> str:
        """Ingest and build `as_of` both ways; they must give the same tables. The mode of the
        incremental side."""
        ingest(self.landing, self.incremental, as_of)
        shutil.copy(self.incremental, self.full)
        with ThreadPoolExecutor(2) as pool:
            modes = list(pool.map(lambda job: _build(*job),
                                  [(self.incremental, as_of, False), (self.full, as_of, True)]))
        problems = _differences(_tables(self.incremental), _tables(self.full))
        assert not problems, f"{as_of}: " + "\n".join(p[:2000] for p in problems)
        return modes[0]

    def day(self, as_of: dt.date) -> None:
        """build(), which must be a full build on DAY0 and an incremental one after it."""
        assert self.build(as_of) == ("full" if as_of == DAY0 else "incremental")

    def touched(self, model: str) -> set[str]:
        """The customers of a touched set (schema pipeline) of the incremental side."""
        return {c for (c,) in _rows(self.incremental, f"select customer_id from pipeline.{model}")}


def test_moved_orders_recategorised_products_late_orders_and_deliveries(tmp_path):
    days = _Days(tmp_path)
    landing, incremental, day = days.landing, days.incremental, days.build

    _land_day0(landing)
    assert day(DAY0) == "full"
    assert _rows(incremental, "select order_id from intermediate.int_aftersales_events "
                 "where event_id = 'e1'") == [("A2",)]

    _land_day1(landing)
    assert day(DAY1) == "incremental"
    # What the incremental build recomputed: both customers of each moved order, and p1's buyers.
    touched = {c for (c,) in _rows(incremental, "select customer_id from pipeline.touched_customers")}
    assert touched == {"a1", "a2", "a3", "a4"}
    assert _rows(incremental, "select count(*) from intermediate.int_purchase_occasions "
                 "where customer_id = 'a4'") == [(0,)]
    # ...and what it gave (equal to the full refresh, checked above): e1 now about A1, e2 about a3.
    assert _rows(incremental, "select event_id, customer_id, order_id from "
                 "intermediate.int_aftersales_events where event_id in ('e1', 'e2') order by 1") == [
        ("e1", "a1", "A1"), ("e2", "a3", "B1")]
    assert _rows(incremental, "select order_id, occasion_seq from marts.fct_orders "
                 "where customer_id = 'a3' order by 1") == [("B1", 2), ("C0", 1)]
    assert _rows(incremental, "select delivered_at from marts.fct_orders where order_id = 'A1'") == [
        (None,)]

    assert day(DAY2) == "incremental"  # no new file: the delivery crossed the as-of day
    assert _rows(incremental, "select delivered_date from marts.fct_orders where order_id = 'A1'") == [
        (dt.date(2024, 6, 3),)]


def test_uniqueness_tests_of_an_incremental_build_check_the_recomputed_rows(tmp_path):
    """On the large incremental models a daily build tests uniqueness on the keys it recomputed
    (the rest was tested by the build that wrote it); without watermarks (a full build, or dbt
    run by hand) every row. A duplicate among the recomputed customers fails the daily test; one
    elsewhere is left to the full tests, which find it."""
    landing = tmp_path / "landing"
    warehouse = tmp_path / "w" / "w.duckdb"
    warehouse.parent.mkdir()
    _land_day0(landing)
    for as_of in (DAY0, DAY1, DAY2):
        if as_of == DAY1:
            _land_day1(landing)
        ingest(landing, warehouse, as_of)
        _build(warehouse, as_of, full_refresh=False)
    # DAY2 recomputed a1 only: A1's delivery crossed the as-of day; p2's July version crossed
    # nothing, so its buyers a2 and a3 are not recomputed
    assert {c for (c,) in _rows(warehouse, "select customer_id from pipeline.touched_customers")} \
        == {"a1"}
    daily = {"as_of": str(DAY2), "incremental_since_as_of": str(DAY1),
             "incremental_since_ingested": "2024-06-02 00:00:00"}

    uniqueness = ("test_name:unique_combination_of_columns,int_purchase_occasions "
                  "test_name:unique_recomputed,fct_orders")

    def dbt_test(run_vars: dict) -> None:
        dbt(["test", "--select", uniqueness], warehouse, {}, env=run_vars_env(run_vars))

    dbt_test(daily)
    dbt_test({"as_of": str(DAY2)})
    duplicate = ("insert into {table} select * from {table} where customer_id = '{customer}' "
                 "limit 1")
    with connect(warehouse) as con:  # a2 was not recomputed on DAY2
        con.execute(duplicate.format(table="intermediate.int_purchase_occasions", customer="a2"))
        con.execute(duplicate.format(table="marts.fct_orders", customer="a2"))
    dbt_test(daily)
    with pytest.raises(AssertionError, match="unique_combination_of_columns_int_purchase_occ"):
        dbt_test({"as_of": str(DAY2)})
    with connect(warehouse) as con:
        con.execute("delete from intermediate.int_purchase_occasions")
        con.execute("delete from marts.fct_orders where customer_id = 'a2'")
        con.execute("insert into marts.fct_orders select * from marts.fct_orders "
                    "where customer_id = 'a1' limit 1")
    with pytest.raises(AssertionError, match="unique_recomputed_fct_orders_order_id"):
        dbt_test(daily)


def test_product_quality_follows_new_returns_and_maturing_first_buyers(tmp_path):
    """product_quality sums int_customer_product_sales, which an incremental build recomputes for
    more customers than touched_customers: the buyers of an unchanged order that a new return or
    complaint names, and the customers whose first occasion matured for the 90-day repurchase
    since the last build. Each day must equal a full refresh."""
    days = _Days(tmp_path)
    landing, incremental, day, touched = days.landing, days.incremental, days.day, days.touched

    def quality(product: str, columns: str) -> tuple:
        return _rows(incremental, f"select {columns} from marts.product_quality "
                                  f"where product_id = '{product}'")[0]

    _land_day0(landing)
    day(DAY0)
    assert quality("p2", "orders, returned_orders, complained_orders") == (2, 0, 0)

    # Only events: a return of p2 from D1 (a4's) and a complaint about the whole of A2 (a1's).
    write_csv(landing / "events" / "day1.csv", EVENTS, [
        f"e5,return_requested,2024-06-02T09:00:00Z,a4,{_props(order_id='D1', product_id='p2')}",
        f"e6,complaint,2024-06-02T10:00:00Z,a1,{_props(order_id='A2')}",
    ])
    day(DAY1)
    assert touched("touched_customers") == set()
    assert touched("touched_product_buyers") == {"a1", "a4"}
    assert quality("p2", "orders, returned_orders, complained_orders") == (2, 1, 1)

    # No new file, 65 days later: the first occasions of a1 (2024-05-01, repurchased on 05-10) and
    # a2 (05-05, never again) are 90 days old; a4's (05-15) is not yet.
    day(dt.date(2024, 8, 5))
    assert touched("touched_product_buyers") == {"a1", "a2"}
    columns = "first_buyers, first_buyers_matured_90d, first_buyers_repurchased_90d"
    assert quality("p1", columns) == (2, 2, 1)
    assert quality("p2", columns) == (1, 0, 0)


def test_price_tiers_follow_new_prices_and_products_leaving_a_category(tmp_path):
    """int_occasion_price_tiers is recomputed for touched customers and for the buyers of every
    product whose price tier moved, although none of their orders changed: a new cheaper product
    in the category, then another product leaving it. Each day must equal a full refresh."""
    days = _Days(tmp_path)
    landing, incremental, day, touched = days.landing, days.incremental, days.day, days.touched

    def tiers() -> dict[str, int]:  # the tier of the occasions that bought p1 (a1's and a2's)
        return dict(_rows(incremental, "select customer_id, price_tier from "
                                       "intermediate.int_occasion_price_tiers where occasion_date "
                                       "in ('2024-05-01', '2024-05-05') order by 1"))

    _land_day0(landing)
    write_csv(landing / "products" / "day0-grinder.csv", PRODUCTS,
              ["p3,Grinder,coffee,20.00,2024-01-01T00:00:00Z"])
    day(DAY0)
    assert tiers() == {"a1": 1, "a2": 1}  # coffee: p1 10.00 (tier 1), p3 20.00 (tier 4)

    # A cheaper coffee nobody bought: p1 is now the middle of three (tier 3).
    write_csv(landing / "products" / "day1.csv", PRODUCTS,
              ["p4,Espresso,coffee,5.00,2024-06-02T01:00:00Z"])
    day(DAY1)
    assert touched("touched_customers") == set()
    assert touched("touched_price_tier_buyers") == {"a1", "a2"}
    assert tiers() == {"a1": 3, "a2": 3}

    # p3 (bought by nobody) leaves coffee for tea: p1 is the dearer of two coffees (tier 4). In tea
    # p2 stays the cheapest (tier 1), so its buyers (a1 and a4) need nothing: only p1's tier moved.
    write_csv(landing / "products" / "day2.csv", PRODUCTS,
              ["p3,Grinder,tea,20.00,2024-06-03T01:00:00Z"])
    day(DAY2)
    assert touched("touched_price_tier_buyers") == {"a1", "a2"}
    assert tiers() == {"a1": 4, "a2": 4}
