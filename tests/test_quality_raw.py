"""Raw-table suites on a real DuckDB warehouse: the day's batch only, blocking vs warning, samples.

Each entity has a clean batch (2026-03-10) and a bad one (2026-03-11) in the same tables, so the
tests also show that a check reads its own day only.
"""

import datetime as dt

import pytest

from retention_pipeline.quality.checks import evaluate
from retention_pipeline.quality.gx_runner import ERROR, WARN
from retention_pipeline.quality.raw_suites import RAW_FRAMES
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.quality_tables import create_raw_tables, insert_rows

GOOD = dt.date(2026, 3, 10)
BAD = dt.date(2026, 3, 11)
LATER = dt.date(2026, 3, 12)
T = dt.datetime(2026, 3, 10, 12, 0)
T_BAD = dt.datetime(2026, 3, 11, 12, 0)


def _customers(con):
    insert_rows(con, "customers", [
        {"customer_id": "c1", "updated_at": T - dt.timedelta(days=1), "timezone": "Europe/Berlin",
         "birthday": dt.date(1990, 5, 17)},
        {"customer_id": "c2", "updated_at": T - dt.timedelta(days=1)},
    ], GOOD - dt.timedelta(days=1))
    insert_rows(con, "customers", [
        # c1 again with a later version: a new (key, updated_at), not a duplicate
        {"customer_id": "c1", "updated_at": T, "timezone": "Asia/Shanghai"},
        {"customer_id": "c3", "updated_at": T, "timezone": "UTC"},
    ], GOOD)
    insert_rows(con, "customers", [
        {"customer_id": None, "updated_at": T_BAD},
        # conflicting versions without updated_at: nothing orders them
        {"customer_id": "c5", "updated_at": None, "first_name": "Ann"},
        {"customer_id": "c5", "updated_at": None, "first_name": "Anna"},
        {"customer_id": "c6", "updated_at": T_BAD, "birthday": dt.date(1850, 1, 1),
         "timezone": "Mars/Olympus"},
    ], BAD)
    # Arrives after the bad day: unknown as of the bad day.
    insert_rows(con, "customers", [{"customer_id": "c_late", "updated_at": T_BAD}], LATER)


def _orders(con):
    insert_rows(con, "orders", [
        {"order_id": "o1", "customer_id": "c1", "ordered_at": T, "total_amount": 100,
         "status": "completed", "updated_at": T},
        {"order_id": "o2", "customer_id": "c3", "ordered_at": T, "total_amount": 50,
         "refunded_amount": 10, "status": "partially_refunded", "updated_at": T},
        {"order_id": "o3", "customer_id": None, "ordered_at": T, "total_amount": 0},  # guest
        {"order_id": "o4", "customer_id": "c2", "ordered_at": T + dt.timedelta(hours=30),
         "total_amount": 20, "discount_amount": 5},  # within the day of slack
    ], GOOD)
    base = {"customer_id": "c1", "ordered_at": T_BAD, "total_amount": 10, "updated_at": T_BAD}
    insert_rows(con, "orders", [
        {**base, "order_id": None},
        {**base, "order_id": "o10", "total_amount": 11},
        {**base, "order_id": "o10", "total_amount": 12},
        {**base, "order_id": "o11", "total_amount": -5},
        {**base, "order_id": "o12", "total_amount": 2_000_000_000},
        {**base, "order_id": "o13", "ordered_at": dt.datetime(1970, 1, 1)},
        {**base, "order_id": "o14", "ordered_at": dt.datetime(2026, 3, 20)},
        {**base, "order_id": "o15", "status": "weird"},
        {**base, "order_id": "o16", "total_amount": 50, "refunded_amount": 80},
        {**base, "order_id": "o17", "customer_id": "c999"},
        {**base, "order_id": "o18", "customer_id": "c_late"},
        {**base, "order_id": "o19", "discount_amount": -1},
        # beyond pandas' nanosecond range: must still be checked, not crash
        {**base, "order_id": "o20", "ordered_at": dt.datetime(3000, 1, 1)},
    ], BAD)


def _products(con):
    insert_rows(con, "products", [
        {"product_id": "p1", "price": 9.5, "launched_at": T, "updated_at": T},
        {"product_id": "p2", "price": 0, "updated_at": T},
    ], GOOD)
    insert_rows(con, "products", [
        {"product_id": "p3", "price": -1, "updated_at": T_BAD},
        {"product_id": "p4", "price": 3, "updated_at": T_BAD},
        {"product_id": "p4", "price": 4, "updated_at": T_BAD},
        {"product_id": "p5", "price": 1, "launched_at": dt.datetime(1980, 1, 1)},
    ], BAD)


def _order_items(con):
    insert_rows(con, "order_items", [
        {"order_id": "o1", "product_id": "p1", "quantity": 2, "unit_price": 9.5},
        {"order_id": "o2", "product_id": "p2", "quantity": 1, "unit_price": 0},
    ], GOOD)
    insert_rows(con, "order_items", [
        {"order_id": "o1", "product_id": "p1", "quantity": -1, "unit_price": 9.5},
        {"order_id": "o1", "product_id": "p2", "quantity": 0, "unit_price": 1},
        {"order_id": "o2", "product_id": "p1", "quantity": 1, "unit_price": -2},
        {"order_id": "o_missing", "product_id": "p1", "quantity": 1, "unit_price": 1},
        {"order_id": "o10", "product_id": "p1", "quantity": 1, "unit_price": 1},  # same-day order
    ], BAD)


def _events(con):
    insert_rows(con, "events", [
        {"event_id": "e1", "event_type": "review", "occurred_at": T,
         "properties": '{"rating": 4, "product_id": "p1"}'},
        {"event_id": "e2", "event_type": "page_view", "occurred_at": T, "properties": None},
        {"event_id": "e3", "event_type": "review", "occurred_at": T, "properties": '{"rating": 5}'},
    ], GOOD)
    insert_rows(con, "events", [
        {"event_id": "e10", "event_type": "unsubscribe", "occurred_at": None},
        {"event_id": "e11", "event_type": "review", "occurred_at": T_BAD,
         "properties": '{"rating": 7}'},
        {"event_id": "e12", "event_type": "page_view", "occurred_at": dt.datetime(2030, 1, 1)},
        {"event_id": "e13", "event_type": "review", "occurred_at": T_BAD,
         "properties": '{"rating": 1}'},
    ], BAD)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("quality_raw") / "warehouse.duckdb"
    with connect(warehouse) as con:
        create_raw_tables(con)
        for fill in (_customers, _orders, _products, _order_items, _events):
            fill(con)
    return load_settings(warehouse=warehouse)


def _failures(settings, entity, as_of):
    outcome = evaluate(settings, [RAW_FRAMES[entity]], as_of).outcome
    return (
        {o.label: o for o in outcome.failed(ERROR)},
        {o.label: o for o in outcome.failed(WARN)},
    )


@pytest.mark.parametrize("entity", sorted(RAW_FRAMES))
def test_clean_batch_passes_every_expectation(settings, entity):
    evaluation = evaluate(settings, [RAW_FRAMES[entity]], GOOD)
    assert evaluation.rows_checked > 0 and not evaluation.sampled
    assert evaluation.outcome.failed() == [], [o.to_dict() for o in evaluation.outcome.failed()]


def test_orders_bad_batch(settings):
    blocking, warnings = _failures(settings, "orders", BAD)
    assert set(blocking) == {
        "expect_column_values_to_not_be_null(order_id)",
        "expect_compound_columns_to_be_unique(order_id, updated_at)",
        "expect_column_values_to_be_between(total_amount, 0..1000000000)",
        "expect_column_values_to_be_between(ordered_at, 1990-01-01 00:00:00..)",
    }
    assert blocking["expect_column_values_to_not_be_null(order_id)"].unexpected_count == 1
    dupes = blocking["expect_compound_columns_to_be_unique(order_id, updated_at)"]
    assert dupes.unexpected_count == 2
    assert dupes.sample == [{"order_id": "o10", "updated_at": "2026-03-11T12:00:00"}] * 2
    totals = blocking["expect_column_values_to_be_between(total_amount, 0..1000000000)"]
    assert (totals.unexpected_count, sorted(totals.sample)) == (2, [-5.0, 2e9])
    assert totals.unexpected_percent == pytest.approx(100 * 2 / 13)
    early = blocking["expect_column_values_to_be_between(ordered_at, 1990-01-01 00:00:00..)"]
    assert early.sample == ["1970-01-01T00:00:00"]

    assert set(warnings) == {
        # end of 11 March + 1 day of time-zone slack
        "expect_column_values_to_be_between(ordered_at, ..2026-03-13 00:00:00)",
        "expect_column_values_to_be_in_set(status)",
        "expect_column_pair_values_a_to_be_greater_than_b(total_amount, refunded_amount)",
        "expect_column_values_to_be_between(discount_amount, 0..)",
        "expect_column_values_to_be_null(unknown_customer_id)",
    }
    assert warnings["expect_column_values_to_be_in_set(status)"].sample == ["weird"]
    unknown = warnings["expect_column_values_to_be_null(unknown_customer_id)"]
    # c_late only arrives in a later batch; c1 (an earlier batch) is known.
    assert (unknown.unexpected_count, sorted(unknown.sample)) == (2, ["c999", "c_late"])
    late = warnings["expect_column_values_to_be_between(ordered_at, ..2026-03-13 00:00:00)"]
    assert sorted(late.sample) == ["2026-03-20T00:00:00", "3000-01-01T00:00:00"]


def test_customers_bad_batch(settings):
    blocking, warnings = _failures(settings, "customers", BAD)
    assert set(blocking) == {
        "expect_column_values_to_not_be_null(customer_id)",
        "expect_compound_columns_to_be_unique(customer_id, updated_at)",
    }
    dupes = blocking["expect_compound_columns_to_be_unique(customer_id, updated_at)"]
    assert dupes.sample == [{"customer_id": "c5", "updated_at": None}] * 2
    assert set(warnings) == {
        "expect_column_values_to_be_between(birthday, 1900-01-01 00:00:00..2026-03-11 00:00:00)",
        "expect_column_values_to_be_in_set(timezone)",
    }
    assert warnings["expect_column_values_to_be_in_set(timezone)"].sample == ["Mars/Olympus"]


def test_products_bad_batch(settings):
    blocking, warnings = _failures(settings, "products", BAD)
    assert set(blocking) == {
        "expect_compound_columns_to_be_unique(product_id, updated_at)",
        "expect_column_values_to_be_between(price, 0..1000000000)",
    }
    assert blocking["expect_column_values_to_be_between(price, 0..1000000000)"].sample == [-1.0]
    assert set(warnings) == {"expect_column_values_to_be_between(launched_at, 1990-01-01 00:00:00..)"}


def test_order_items_bad_batch(settings):
    blocking, warnings = _failures(settings, "order_items", BAD)
    assert set(blocking) == {
        "expect_column_values_to_be_between(quantity, 0..1000000)",
        "expect_column_values_to_be_between(unit_price, 0..1000000000)",
    }
    assert blocking["expect_column_values_to_be_between(quantity, 0..1000000)"].sample == [-1]
    assert set(warnings) == {
        "expect_column_values_to_be_between(quantity, 1..)",
        "expect_column_values_to_be_null(unknown_order_id)",
    }
    # -1 and 0 are both below 1
    assert sorted(warnings["expect_column_values_to_be_between(quantity, 1..)"].sample) == [-1, 0]
    assert warnings["expect_column_values_to_be_null(unknown_order_id)"].sample == ["o_missing"]


def test_events_bad_batch(settings):
    blocking, warnings = _failures(settings, "events", BAD)
    assert set(blocking) == {"expect_column_values_to_not_be_null(occurred_at)"}
    assert set(warnings) == {
        "expect_column_values_to_be_between(occurred_at, 1990-01-01 00:00:00..2026-03-13 00:00:00)",
        "expect_column_values_to_be_between(review_rating, 1..5)",
    }
    assert warnings["expect_column_values_to_be_between(review_rating, 1..5)"].sample == [7.0]


def test_a_batch_over_the_row_cap_is_sampled_by_key(tmp_path):
    """Above quality_max_rows the frame is thinned by key hash: every version of a sampled key
    stays, so a batch where each key is duplicated still shows 100 % duplicates."""
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        create_raw_tables(con, ["customers", "orders"])
        con.execute("""
            insert into raw.orders (order_id, customer_id, ordered_at, total_amount, updated_at,
                                    _batch_date)
            select 'o' || (i % 1000), null, timestamp '2026-03-10 10:00', 1,
                   timestamp '2026-03-10 10:00', date '2026-03-10'
            from range(2000) t(i)
            union all
            select null, null, timestamp '2026-03-10 10:00', 1, null, date '2026-03-10'
        """)
    settings = load_settings(warehouse=warehouse, quality_max_rows=400)
    evaluation = evaluate(settings, [RAW_FRAMES["orders"]], GOOD)
    assert evaluation.sampled and evaluation.rows_in_scope == 2001
    assert 100 < evaluation.rows_checked < 800
    by_label = evaluation.outcome.by_label()
    dupes = by_label["expect_compound_columns_to_be_unique(order_id, updated_at)"]
    # all sampled keyed rows come in pairs; the null-key row is kept and not part of a pair
    assert dupes.unexpected_count == evaluation.rows_checked - 1
    assert (evaluation.rows_checked - 1) % 2 == 0
    assert by_label["expect_column_values_to_not_be_null(order_id)"].unexpected_count == 1


def test_every_raw_entity_has_a_suite():
    from retention_pipeline.assets.raw import ENTITIES

    assert set(RAW_FRAMES) == set(ENTITIES)
