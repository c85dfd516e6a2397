"""delivery_experience, price tiers, price_tier_migration and the profile dimensions of
repurchase_drivers on a hand-worked shop: every expected number is worked out by hand below.

As-of 2024-06-30, reporting time zone UTC. First orders and their delivery against the promise:

  d1  01-10, promised 01-15, delivered 01-15 (5 days): on time. Again 02-01 (22 days), 03-15, 06-10.
  d2  01-10, promised 01-14, delivered 01-15: 1 day late. Again 02-15 (36 days).
  d3  01-10, promised 01-13, delivered 01-15: 2 days late (still '1–2 days late').
  d4  01-10, promised 01-12, delivered 01-15: 3 days late. Again 03-31 (81 days).
  d5  01-10, promised 01-14, shipped, never delivered: 'not delivered'.
  d6  06-25, promised 07-02 (after the as-of), still on its way: 'unknown'; matured for no window.
  d7  01-10, no promised date, delivered 01-14 (4 days): 'unknown'. Again 02-20 (41 days).
  d8  03-01 08:00 promised 03-05, delivered 03-10 (9 days, 5 late); a second order the same day
      (15:00, on time) is not the first order: '> 2 days late'.

Price tiers (quartile of the price within the category, ties share a tier):
  tea 10, 20, 20, 30, 40 -> percent_rank 0, .25, .25, .75, 1 -> tiers 1, 2, 2, 4, 4
  bag 1, 2, 3, 4 -> percent_rank 0, 1/3, 2/3, 1 -> tiers 1, 2, 3, 4;  cup 5 (alone) -> 1;
  pot has no price -> no tier.
Occasions (tier = highest of its products) and the latest later occasion matured for 90 days:
  d1  first tea 10 (1); 02-01 bag 4 + tea 20 (4); 03-15 tea 40 (4, matured: the 'to');
      06-10 pot (not matured, no tier) is 87 days after 03-15: repurchased.          1 -> 4 up
  d2  bag 3 (3), 02-15 bag 3 (3); nothing after.                                  3 -> 3 same
  d4  tea 30 (4), 03-31 cup 5 (1): 03-31 + 90 = 06-29 <= as-of; nothing after.     4 -> 1 down
  d7  first occasion only a pot (no tier): not counted. d8: one occasion: not counted.
Ages on the first occasion: d1 25 (birthday that day), d2 24 (birthday the day after), d3 none,
d4 45, d5 54, d6 55 (birthday that day), d7 33, d8 35.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.pipeline import build_warehouse, write_csv
from tests.test_marts_fixture import rows

AS_OF = dt.date(2024, 6, 30)

CUSTOMERS = [
    "d1,F,1999-01-10", "d2,male,1999-01-11", "d3,,", "d4,female,1979-01-10",
    "d5,female,1969-01-11", "d6,male,1969-06-25", "d7,Female,1990-05-05", "d8,,1989-03-01",
]
ORDERS_HEADER = "order_id,customer_id,ordered_at,total_amount,shipped_at,delivered_at,promised_delivery_date"
ORDERS = [
    "o1,d1,2024-01-10T10:00:00Z,10,2024-01-11T10:00:00Z,2024-01-15T20:00:00Z,2024-01-15",
    "o2,d1,2024-02-01T10:00:00Z,24,,,",
    "o2b,d1,2024-03-15T10:00:00Z,40,,,",
    "o2c,d1,2024-06-10T10:00:00Z,7,,,",
    "o3,d2,2024-01-10T10:00:00Z,3,2024-01-11T10:00:00Z,2024-01-15T08:00:00Z,2024-01-14",
    "o3b,d2,2024-02-15T10:00:00Z,3,,,",
    "o4,d3,2024-01-10T10:00:00Z,10,2024-01-11T10:00:00Z,2024-01-15T08:00:00Z,2024-01-13",
    "o5,d4,2024-01-10T10:00:00Z,30,2024-01-11T10:00:00Z,2024-01-15T08:00:00Z,2024-01-12",
    "o6,d4,2024-03-31T10:00:00Z,5,,,",
    "o7,d5,2024-01-10T10:00:00Z,10,2024-01-11T10:00:00Z,,2024-01-14",
    "o8,d6,2024-06-25T10:00:00Z,10,2024-06-26T10:00:00Z,,2024-07-02",
    "o9,d7,2024-01-10T10:00:00Z,7,2024-01-11T10:00:00Z,2024-01-14T10:00:00Z,",
    "o9b,d7,2024-02-20T10:00:00Z,10,,,",
    "o10,d8,2024-03-01T08:00:00Z,2,2024-03-02T08:00:00Z,2024-03-10T08:00:00Z,2024-03-05",
    "o11,d8,2024-03-01T15:00:00Z,7,2024-03-02T08:00:00Z,2024-03-04T08:00:00Z,2024-03-05",
]
PRODUCTS = [
    "t10,Tea,tea,10", "t20a,Tea,tea,20", "t20b,Tea,tea,20", "t30,Tea,tea,30", "t40,Tea,tea,40",
    "b1,Bag,bag,1", "b2,Bag,bag,2", "b3,Bag,bag,3", "b4,Bag,bag,4", "c5,Cup,cup,5", "pot,Pot,pot,",
]
ITEMS = [
    "o1,t10,1,10", "o2,b4,1,4", "o2,t20a,1,20", "o2b,t40,1,40", "o2c,pot,1,7",
    "o3,b3,1,3", "o3b,b3,1,3", "o4,t10,1,10", "o5,t30,1,30", "o6,c5,1,5", "o7,t10,1,10",
    "o8,t10,1,10", "o9,pot,1,7", "o9b,t10,1,10", "o10,b2,1,2", "o11,pot,1,7",
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("delivery_tiers")
    landing = root / "landing"
    write_csv(landing / "customers.csv", "customer_id,gender,birthday", CUSTOMERS)
    write_csv(landing / "orders.csv", ORDERS_HEADER, ORDERS)
    write_csv(landing / "products.csv", "product_id,name,category,price", PRODUCTS)
    write_csv(landing / "order_items.csv", "order_id,product_id,quantity,unit_price", ITEMS)
    return build_warehouse(landing, root / "warehouse.duckdb", AS_OF, "UTC")


def test_fct_orders_delivery_days_and_lateness(warehouse):
    assert rows(warehouse, """
        select order_id, delivery_days, days_late from marts.fct_orders
        where order_id in ('o1', 'o3', 'o5', 'o7', 'o9', 'o10') order by order_id
    """) == [("o1", 5, 0), ("o10", 9, 5), ("o3", 5, 1), ("o5", 5, 3), ("o7", None, None),
             ("o9", 4, None)]


BUCKETS = ["on time", "1–2 days late", "> 2 days late", "not delivered", "unknown"]


def test_every_delivery_bucket_with_its_customers_and_repurchase(warehouse):
    got = rows(warehouse, """
        select delivery_bucket, window_days, customers, matured_customers, repurchased_customers,
               repurchase_rate, median_delivery_days
        from marts.delivery_experience where window_days in (30, 90) order by window_days, bucket_order
    """)
    assert got == [
        ("on time", 30, 1, 1, 1, 1, 5),
        ("1–2 days late", 30, 2, 2, 0, 0, 5),
        ("> 2 days late", 30, 2, 2, 0, 0, 7),
        ("not delivered", 30, 1, 1, 0, 0, None),
        ("unknown", 30, 2, 1, 0, 0, 4),
        ("on time", 90, 1, 1, 1, 1, 5),
        ("1–2 days late", 90, 2, 2, 1, 0.5, 5),
        ("> 2 days late", 90, 2, 2, 1, 0.5, 7),
        ("not delivered", 90, 1, 1, 0, 0, None),
        ("unknown", 90, 2, 1, 1, 1, 4),
    ]
    # 01-10 + 365 is after the as-of: nobody matured, no rate; every bucket still has its row
    assert rows(warehouse, """
        select delivery_bucket, customers, matured_customers, repurchase_rate
        from marts.delivery_experience where window_days = 365 order by bucket_order
    """) == [(b, n, 0, None) for b, n in zip(BUCKETS, [1, 2, 2, 1, 2], strict=True)]


def test_price_tiers_are_quartiles_within_the_category_ties_shared(warehouse):
    assert rows(warehouse, """
        select product_id, price_tier from intermediate.int_product_price_tiers order by product_id
    """) == [("b1", 1), ("b2", 2), ("b3", 3), ("b4", 4), ("c5", 1), ("t10", 1), ("t20a", 2),
             ("t20b", 2), ("t30", 4), ("t40", 4)]


def test_price_tier_migration_first_against_latest_matured_occasion(warehouse):
    got = rows(warehouse, """
        select from_price_tier, to_price_tier, direction, customers, share,
               repurchased_customers_90d, repurchase_rate_90d
        from marts.price_tier_migration order by from_price_tier, to_price_tier
    """)
    assert len(got) == 16
    counted = [row for row in got if row[3] > 0]
    assert counted == [(1, 4, "up", 1, 1, 1, 1), (3, 3, "same", 1, 1, 0, 0),
                       (4, 1, "down", 1, 1, 0, 0)]
    by_cell = {(f, t): (share, rate) for f, t, _, _, share, _, rate in got}
    assert by_cell[(1, 1)] == (0, None)  # a from tier with customers: 0 %, no rate
    assert by_cell[(2, 2)] == (None, None)  # nobody started in tier 2


def test_repurchase_drivers_by_gender_and_age_band(warehouse):
    got = rows(warehouse, """
        select dimension, dimension_value, customers from marts.repurchase_drivers
        where dimension in ('gender', 'age_band') and window_days = 30 order by 1, 2
    """)
    assert got == [
        ("age_band", "25–34", 2), ("age_band", "35–44", 1), ("age_band", "45–54", 2),
        ("age_band", "55+", 1), ("age_band", "< 25", 1), ("age_band", "unknown", 1),
        ("gender", "f", 1), ("gender", "female", 3), ("gender", "male", 2),
        ("gender", "unknown", 2),
    ]
