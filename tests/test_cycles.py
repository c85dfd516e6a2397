"""Replenishment cycles (dbt model marts.replenishment_cycles, built by a real dbt run on
hand-made upstream tables): hand-worked medians, sample-size rule, seed overrides, and an
independent pandas computation on random purchases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from retention_pipeline.predictions.tables import COLUMNS, REPLENISHMENT_CYCLES
from retention_pipeline.warehouse import connect
from tests.support.pipeline import dbt

AS_OF = dt.date(2026, 6, 30)
PRODUCTS = {"k1": "coffee", "k2": "coffee", "t1": "tea", "u1": "uncategorized", "v1": "vitamins"}


def _warehouse(path, orders, items, products=PRODUCTS, overrides=None):
    """The order lines (int_order_lines) and products (and the overrides seed) written by hand.

    orders: (order_id, customer_id, order_date, is_valid_purchase); items: (order_id, product_id).
    """
    orders = pd.DataFrame(
        orders, columns=["order_id", "customer_id", "order_date", "is_valid_purchase"]
    ).astype({"order_date": "datetime64[s]"})
    lines = orders.merge(pd.DataFrame(items, columns=["order_id", "product_id"]), on="order_id")
    with connect(path) as con:
        for schema in ("intermediate", "staging", "seeds"):
            con.execute(f"create schema if not exists {schema}")
        frames = {
            "intermediate.int_order_lines": lines,
            "staging.stg_shop__products": pd.DataFrame(
                list(products.items()), columns=["product_id", "category"]
            ),
        }
        frames["seeds.replenishment_cycle_overrides"] = pd.DataFrame(
            overrides or [], columns=["category", "cycle_days", "note"]
        ).astype({"category": "str", "cycle_days": "float64", "note": "str"})
        for name, frame in frames.items():
            con.register("_frame", frame)
            cast = "cast(order_date as date) as order_date, * exclude (order_date)" if (
                "order_date" in frame) else "*"
            con.execute(f"create or replace table {name} as select {cast} from _frame")
            con.unregister("_frame")
    return path


def _hand_worked_orders():
    orders = [
        # customer a: coffee on 1 Mar, 31 Mar, 5 May -> gaps 30, 35
        ("o1", "a", "2026-03-01", True), ("o2", "a", "2026-03-31", True),
        ("o3", "a", "2026-05-05", True),
        # customer b: coffee 1 Mar, then two orders on 11 Mar (one occasion) -> gap 10;
        # a cancelled coffee order on 5 Mar is no occasion
        ("o4", "b", "2026-03-01", True), ("o5", "b", "2026-03-05", False),
        ("o6", "b", "2026-03-11", True), ("o7", "b", "2026-03-11", True),
        # after the as-of date: ignored
        ("o8", "b", "2026-07-15", True),
        # tea: gaps 20 and 41 -> median 30.5; uncategorized: gaps 7 and 12
        ("o9", "c", "2026-01-01", True), ("o10", "c", "2026-01-21", True),
        ("o11", "d", "2026-02-01", True), ("o12", "d", "2026-03-14", True),
        ("o13", "e", "2026-04-01", True), ("o14", "e", "2026-04-08", True),
        ("o15", "e", "2026-04-20", True),
    ]
    items = [
        ("o1", "k1"), ("o1", "k2"),  # two coffee products in one occasion count once
        ("o2", "k2"), ("o3", "k1"), ("o4", "k1"), ("o5", "k1"), ("o6", "k1"), ("o7", "k2"),
        ("o8", "k1"), ("o9", "t1"), ("o10", "t1"), ("o11", "t1"), ("o12", "t1"),
        ("o13", "u1"), ("o14", "u1"), ("o15", "u1"),
        ("o2", "unknown_product"),  # an item whose product is unknown has no category
    ]
    return orders, items


def _build(path, min_samples: int) -> None:
    """`dbt run` of the model alone: its upstream tables are the hand-made ones."""
    dbt(["run", "--select", "replenishment_cycles"], path,
        {"as_of": AS_OF.isoformat(), "cycle_min_samples": min_samples})


def _cycles(path) -> pd.DataFrame:
    with connect(path, read_only=True) as con:
        return con.execute(f"select * from {REPLENISHMENT_CYCLES} order by category").df()


def test_hand_worked_medians_of_gaps_between_category_occasions(tmp_path):
    orders, items = _hand_worked_orders()
    path = _warehouse(tmp_path / "w.duckdb", orders, items)
    _build(path, min_samples=2)
    got = _cycles(path)
    assert list(got.columns) == list(COLUMNS[REPLENISHMENT_CYCLES])
    assert got.to_dict("records") == [
        {"category": "coffee", "cycle_days": 30.0, "sample_size": 3, "source": "observed"},
        {"category": "tea", "cycle_days": 30.5, "sample_size": 2, "source": "observed"},
    ]
    # uncategorized products get no cycle: no reminder could name what to restock


def test_categories_below_the_minimum_sample_size_are_left_out(tmp_path):
    orders, items = _hand_worked_orders()
    path = _warehouse(tmp_path / "w.duckdb", orders, items, overrides=[])
    _build(path, min_samples=3)
    # tea and uncategorized have 2 gaps each
    assert list(_cycles(path)["category"]) == ["coffee"]


def test_seed_overrides_replace_add_and_remove_categories(tmp_path):
    orders, items = _hand_worked_orders()
    overrides = [
        ("Coffee ", 28.0, "supplier pack lasts four weeks"),  # replaces the observed 30
        ("vitamins", 90.0, "90-day bottles"),  # never repurchased yet: added
        ("tea", None, "sold as gifts: no reminder"),  # observed but removed
        ("garden", None, "not sold here: no effect"),
    ]
    path = _warehouse(tmp_path / "w.duckdb", orders, items, overrides=overrides)
    _build(path, min_samples=2)
    assert _cycles(path).to_dict("records") == [
        {"category": "coffee", "cycle_days": 28.0, "sample_size": 3, "source": "override"},
        {"category": "vitamins", "cycle_days": 90.0, "sample_size": 0, "source": "override"},
    ]


def test_without_purchases_only_overrides_are_written(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb", [], [],
                      overrides=[("coffee", 30.0, ""), ("tea", None, "")])
    _build(path, min_samples=5)
    assert _cycles(path).to_dict("records") == [
        {"category": "coffee", "cycle_days": 30.0, "sample_size": 0, "source": "override"}]


def test_matches_an_independent_pandas_computation_on_random_purchases(tmp_path):
    rng = np.random.default_rng(12)
    n_orders = 6000
    customers = rng.integers(0, 400, n_orders)
    days = rng.integers(0, 400, n_orders)
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n_orders)],
        "customer_id": [f"c{c}" for c in customers],
        "order_date": [dt.date(2025, 6, 1) + dt.timedelta(days=int(d)) for d in days],
        "is_valid_purchase": rng.random(n_orders) > 0.1,
    })
    products = {f"p{i}": f"cat{i % 7}" for i in range(35)}
    lines = rng.integers(1, 4, n_orders)
    items = pd.DataFrame({
        "order_id": np.repeat(orders["order_id"].to_numpy(), lines),
        "product_id": [f"p{p}" for p in rng.integers(0, 35, lines.sum())],
    })
    path = _warehouse(tmp_path / "w.duckdb", orders.itertuples(index=False, name=None),
                      items.itertuples(index=False, name=None), products, overrides=[])
    _build(path, min_samples=50)

    valid = orders[orders["is_valid_purchase"] & (orders["order_date"] <= AS_OF)]
    joined = valid.merge(items, on="order_id")
    joined["category"] = joined["product_id"].map(products)
    occasions = joined[["customer_id", "category", "order_date"]].drop_duplicates()
    occasions = occasions.sort_values(["customer_id", "category", "order_date"])
    gaps = occasions.groupby(["customer_id", "category"])["order_date"].diff().dropna()
    occasions = occasions.loc[gaps.index].assign(gap=gaps.map(lambda d: d.days))
    expected = occasions.groupby("category")["gap"].agg(["median", "size"])
    expected = expected[expected["size"] >= 50]

    got = _cycles(path).set_index("category")
    assert list(got.index) == list(expected.index) and len(got) >= 5
    np.testing.assert_allclose(got["cycle_days"], expected["median"])
    assert (got["sample_size"] == expected["size"]).all()
