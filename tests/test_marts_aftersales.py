"""The item- and event-based marts on a hand-worked shop (UTC, as-of 2024-06-30).

  a1  first order A1: coffee 2 × 10 + furniture 100 (main category furniture); a return of the
      furniture and a ticket answered in 59 minutes before the second order A2 (coffee, day 22).
  a2  first order B1 (coffee); a complaint naming no order (about B1, the latest before it) and a
      ticket answered in exactly 60 minutes; second order B2 (coffee) on day 41.
  a3  C1 (apparel) returned and fully refunded: not a purchase, so a3's first occasion is C2, whose
      ticket got its first response after exactly 24 hours. The return still counts for the
      product: C1 was sold.
  a4  D1 (coffee), D2 (furniture) ten days later; a ticket and a complaint about D1 only after D2:
      they cannot explain the repurchase, so a4 is 'no ticket' / 'no'.
  a5  E1, a product missing from the catalogue; a ticket with no response recorded ('> 24 h').
      Matured for 90 days on the as-of date exactly.
  a6  F1 (coffee) in May: not matured for 90 days; reviews (one with an unreadable rating);
      a cancelled order H1; a ticket after the as-of date.
  guest order G1: 3 units of p1.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.pipeline import build_warehouse, write_csv
from tests.test_marts_fixture import rows

AS_OF = dt.date(2024, 6, 30)


def _props(**values) -> str:
    """A JSON object as one CSV field."""
    import json

    return '"' + json.dumps(values).replace('"', '""') + '"'


ORDERS = [
    "A1,a1,2024-01-10T10:00:00Z,120.00,completed,",
    "A2,a1,2024-02-01T10:00:00Z,10.00,completed,",
    "B1,a2,2024-01-20T10:00:00Z,10.00,completed,",
    "B2,a2,2024-03-01T10:00:00Z,12.00,completed,",
    "C1,a3,2024-02-10T10:00:00Z,50.00,refunded,50.00",
    "C2,a3,2024-03-01T10:00:00Z,50.00,completed,",
    "D1,a4,2024-03-10T10:00:00Z,12.00,completed,",
    "D2,a4,2024-03-20T10:00:00Z,100.00,completed,",
    "E1,a5,2024-04-01T10:00:00Z,30.00,completed,",
    "F1,a6,2024-05-01T10:00:00Z,10.00,completed,",
    "G1,,2024-04-10T10:00:00Z,30.00,completed,",
    "H1,a6,2024-05-02T10:00:00Z,100.00,cancelled,",
]
ITEMS = [
    "A1,p1,2,10.00", "A1,p3,1,100.00", "A2,p1,1,10.00", "B1,p1,1,10.00", "B2,p2,1,12.00",
    "C1,p4,1,50.00", "C2,p4,1,50.00", "D1,p2,1,12.00", "D2,p3,1,100.00", "E1,p5,1,30.00",
    "F1,p1,1,10.00", "G1,p1,3,10.00", "H1,p3,1,100.00",
]
EVENTS = [
    f"e1,return_requested,2024-01-15T09:00:00Z,a1,{_props(order_id='A1', product_id='p3')}",
    f"e2,support_ticket,2024-01-16T09:00:00Z,a1,{_props(order_id='A1', first_response_minutes=59, resolved=True)}",
    f"e3,complaint,2024-01-22T09:00:00Z,a2,{_props(reason='late_delivery')}",
    f"e4,support_ticket,2024-01-23T09:00:00Z,a2,{_props(order_id='B1', first_response_minutes=60, resolved=False)}",
    f"e5,return_requested,2024-02-15T09:00:00Z,a3,{_props(order_id='C1', product_id='p4')}",
    f"e6,support_ticket,2024-03-05T09:00:00Z,a3,{_props(order_id='C2', first_response_minutes=1440, resolved=True)}",
    f"e7,support_ticket,2024-03-25T09:00:00Z,a4,{_props(order_id='D1', first_response_minutes=30, resolved=True)}",
    f"e8,complaint,2024-03-25T10:00:00Z,a4,{_props(order_id='D1')}",
    f"e9,support_ticket,2024-04-02T09:00:00Z,a5,{_props(order_id='E1')}",
    f"e10,review,2024-05-05T09:00:00Z,a6,{_props(order_id='F1', product_id='p1', rating=5)}",
    f"e11,review,2024-05-06T09:00:00Z,a6,{_props(order_id='F1', product_id='p1', rating='bad')}",
    f"e12,review,2024-03-28T09:00:00Z,a4,{_props(order_id='D2', product_id='p3', rating=2)}",
    f"e13,support_ticket,2024-07-02T09:00:00Z,a6,{_props(order_id='F1', first_response_minutes=5)}",
    f"e14,page_view,2024-01-16T08:00:00Z,a1,{_props(path='/c/coffee')}",
    # the same return requested twice: one returned order, units unchanged
    f"e15,return_requested,2024-01-16T10:00:00Z,a1,{_props(order_id='A1', product_id='p3')}",
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("aftersales")
    landing = root / "landing"
    write_csv(landing / "customers.csv", "customer_id,country",
              [f"a{i},US" for i in range(1, 7)])
    write_csv(landing / "products.csv", "product_id,name,category",
              ["p1,Beans,coffee", "p2,Decaf,coffee", "p3,Chair,furniture", "p4,Jacket,apparel"])
    write_csv(landing / "orders.csv",
              "order_id,customer_id,ordered_at,total_amount,status,refunded_amount", ORDERS)
    write_csv(landing / "order_items.csv", "order_id,product_id,quantity,unit_price", ITEMS)
    write_csv(landing / "events.csv", "event_id,event_type,occurred_at,customer_id,properties",
              EVENTS)
    return build_warehouse(landing, root / "warehouse.duckdb", AS_OF)


def test_which_events_count_for_the_first_occasion(warehouse):
    assert rows(warehouse, """
        select customer_id, first_order_had_return, first_order_had_complaint,
               first_ticket_event_id, first_response_bucket
        from intermediate.int_customer_aftersales order by customer_id
    """) == [
        ("a1", True, False, "e2", "< 1 h"),
        ("a2", False, True, "e4", "1–24 h"),   # e3 names no order: it is about B1
        ("a3", False, False, "e6", "> 24 h"),  # the return was about C1, not a purchase
        ("a4", False, False, None, "no ticket"),  # e7, e8 came after the second occasion
        ("a5", False, False, "e9", "> 24 h"),  # never answered
        ("a6", False, False, None, "no ticket"),  # e13 is after the as-of date
    ]


def test_aftersales_retention(warehouse):
    assert rows(warehouse, """
        select first_response_bucket, bucket_order, customers, matured_customers_90d,
               repurchased_customers_90d, repurchase_rate_90d, avg_first_response_minutes,
               resolved_share
        from marts.aftersales_retention order by bucket_order
    """) == [
        ("< 1 h", 1, 1, 1, 1, 1, 59, 1),
        ("1–24 h", 2, 1, 1, 1, 1, 60, 0),
        ("> 24 h", 3, 2, 2, 0, 0, 1440, 0.5),
        ("no ticket", 4, 2, 1, 1, 1, None, None),
    ]


def test_drivers_by_first_category_and_problems(warehouse):
    assert rows(warehouse, """
        select dimension, dimension_value, customers, matured_customers, repurchased_customers,
               repurchase_rate
        from marts.repurchase_drivers
        where window_days = 90
          and dimension in ('first_category', 'first_order_had_return_or_complaint')
        order by dimension, dimension_value
    """) == [
        ("first_category", "apparel", 1, 1, 0, 0),
        ("first_category", "coffee", 3, 2, 2, 1),
        ("first_category", "furniture", 1, 1, 1, 1),  # A1's main category: 100 > 2 × 10
        ("first_category", "uncategorized", 1, 1, 0, 0),
        ("first_order_had_return_or_complaint", "no", 4, 3, 1, 1 / 3),
        ("first_order_had_return_or_complaint", "yes", 2, 2, 2, 1),
    ]


def test_category_transitions(warehouse):
    assert rows(warehouse, """
        select first_category, next_category, is_same_category, customers,
               first_category_customers, share_of_repurchasers, share_of_first_buyers
        from marts.category_transitions order by first_category, next_category
    """) == [
        ("coffee", "coffee", True, 1, 3, 0.5, 1 / 3),
        ("coffee", "furniture", False, 1, 3, 0.5, 1 / 3),
        ("furniture", "coffee", False, 1, 1, 1, 1),
    ]


def test_product_quality(warehouse):
    columns = """buyers, orders, units, returned_orders, return_rate, complained_orders,
        complaint_rate, reviews, avg_rating, first_buyers, first_buyers_matured_90d,
        first_buyers_repurchased_90d, first_buyer_repurchase_rate_90d"""
    assert rows(warehouse, f"""
        select product_id, product_name, category, {columns} from marts.product_quality
        where quality_level = 'product' order by product_id
    """) == [
        # A1, A2, B1, F1 and the guest's G1; the complaint about B1 names no product
        ("p1", "Beans", "coffee", 3, 5, 8, 0, 0, 1, 0.2, 1, 5, 3, 2, 2, 1),
        ("p2", "Decaf", "coffee", 2, 2, 2, 0, 0, 1, 0.5, 0, None, 1, 1, 1, 1),
        # H1 was cancelled: not sold
        ("p3", "Chair", "furniture", 2, 2, 2, 1, 0.5, 0, 0, 1, 2, 1, 1, 1, 1),
        # C1 was refunded after its return but was sold: it stays in the denominator
        ("p4", "Jacket", "apparel", 1, 2, 2, 1, 0.5, 0, 0, 0, None, 1, 1, 0, 0),
        ("p5", None, "uncategorized", 1, 1, 1, 0, 0, 0, 0, 0, None, 1, 1, 0, 0),
    ]
    assert rows(warehouse, f"""
        select category, {columns} from marts.product_quality
        where quality_level = 'category' order by category
    """) == [
        ("apparel", 1, 2, 2, 1, 0.5, 0, 0, 0, None, 1, 1, 0, 0),
        ("coffee", 4, 7, 10, 0, 0, 2, 2 / 7, 1, 5, 4, 3, 3, 1),
        ("furniture", 2, 2, 2, 1, 0.5, 0, 0, 1, 2, 1, 1, 1, 1),
        ("uncategorized", 1, 1, 1, 0, 0, 0, 0, 0, None, 1, 1, 0, 0),
    ]
