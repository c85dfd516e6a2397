"""Behavioural events: the browsing funnel around orders, browsing without buying, after-sales
events (returns, complaints, tickets, reviews). Messages and unsubscribes are in messages.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retention_pipeline.generator import jsontext as js
from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.customers import Customers
from retention_pipeline.generator.orderbook import CHAIN, COMPANION, TEST, OrderBook
from retention_pipeline.generator.products import Catalog
from retention_pipeline.generator.segments import position_in_segment
from retention_pipeline.generator.timeline import DAY, Timeline

EVENT_TYPES = ("session_start", "page_view", "product_view", "add_to_cart", "checkout_started",
               "search", "support_ticket", "complaint", "return_requested", "review",
               "message_open", "message_click", "unsubscribe")
(SESSION, PAGE, VIEW, CART, CHECKOUT, SEARCH, TICKET, COMPLAINT, RETURN, REVIEW,
 OPEN, CLICK, UNSUBSCRIBE) = range(len(EVENT_TYPES))

_CATEGORY_PATHS = tuple(f"/c/{c.name}" for c in ref.CATEGORIES)
_SEARCH_TERMS = tuple(t for c in ref.CATEGORIES for t in c.search_terms)
_TERM_START = np.cumsum([0] + [len(c.search_terms) for c in ref.CATEGORIES])[:-1]
_TERM_COUNT = np.array([len(c.search_terms) for c in ref.CATEGORIES])


@dataclass
class EventBatch:
    at_s: np.ndarray
    type: np.ndarray
    customer: np.ndarray  # -1 = anonymous
    properties: pa.Array

    @staticmethod
    def of(at_s, type_code, customer, properties) -> EventBatch:
        at_s = np.asarray(at_s, dtype=np.int64)
        return EventBatch(at_s, np.full(len(at_s), type_code, np.int8),
                          np.asarray(customer, np.int64), properties)


def funnel_events(rng, book: OrderBook, catalog: Catalog) -> list[EventBatch]:
    """The session that ends in each order: landing, category page, search, product views,
    add to cart, checkout. Guests' sessions are anonymous; test orders have none."""
    o, items = book.orders, book.items
    shop = np.flatnonzero(o["kind"] != TEST)
    n = len(shop)
    at, customer = o["at_s"][shop], o["customer"][shop]
    span = np.zeros(book.n, dtype=np.int64)
    span[shop] = rng.integers(8 * 60, 40 * 60, n)
    first_item = np.searchsorted(items["order"], shop)
    category = catalog.category[items["product"][first_item]]

    batches = [
        EventBatch.of(at - span[shop], SESSION, customer, js.json_objects(
            n, channel=js.vocabulary(ref.ORDER_CHANNELS, o["channel"][shop]))),
        EventBatch.of(at - (span[shop] * rng.uniform(0.7, 0.95, n)).astype(np.int64), PAGE,
                      customer, js.json_objects(n, path=js.vocabulary(_CATEGORY_PATHS, category))),
        # after the last add_to_cart (at least span * 0.05 = 24 s before the order)
        EventBatch.of(at - rng.integers(5, 20, n), CHECKOUT, customer, js.json_objects(
            n, items=js.number(np.bincount(items["order"], minlength=book.n)[shop]))),
    ]
    searched = rng.random(n) < 0.4
    batches.append(EventBatch.of(
        (at - span[shop] * 0.65)[searched].astype(np.int64), SEARCH, customer[searched],
        js.json_objects(int(searched.sum()),
                        query=_search_terms(rng, category[searched]))))

    line_rows = np.flatnonzero(o["kind"][items["order"]] != TEST)
    order = items["order"][line_rows]
    m = len(line_rows)
    product_ids = catalog.ids.take(pa.array(items["product"][line_rows]))
    batches.append(EventBatch.of(
        o["at_s"][order] - (span[order] * rng.uniform(0.2, 0.6, m)).astype(np.int64), VIEW,
        o["customer"][order], js.json_objects(m, product_id=js.string(product_ids))))
    batches.append(EventBatch.of(
        o["at_s"][order] - (span[order] * rng.uniform(0.05, 0.2, m)).astype(np.int64), CART,
        o["customer"][order], js.json_objects(m, product_id=js.string(product_ids),
                                              quantity=js.number(items["quantity"][line_rows]))))
    return batches


def browsing_events(rng, customers: Customers, book: OrderBook, catalog: Catalog,
                    timeline: Timeline) -> list[EventBatch]:
    """Sessions without an order: buyers while they are active, registered non-buyers shortly
    after registering. Some end with an abandoned cart."""
    o = book.orders
    mine = np.isin(o["kind"], (CHAIN, COMPANION))
    n_orders = np.bincount(o["customer"][mine], minlength=customers.n)
    last = np.full(customers.n, -1, dtype=np.int64)
    np.maximum.at(last, o["customer"][mine], o["at_s"][mine])
    buyer = n_orders > 0
    lo = np.maximum(customers.created_s, timeline.start_s)
    hi = np.minimum(np.where(buyer, last + 90 * DAY, lo + 180 * DAY), timeline.end_s)
    mean = np.where(buyer, 0.8 * n_orders + 0.5, 1.5)
    sessions = np.where(customers.staff | (hi <= lo), 0, rng.poisson(mean))

    who = np.repeat(np.arange(customers.n), sessions)
    s = len(who)
    start = lo[who] + (rng.random(s) * (hi[who] - lo[who])).astype(np.int64)
    channel = np.where(customers.app_user[who] & (rng.random(s) < 0.6), ref.APP, ref.WEB)
    favourite = customers.favourite_category[who]
    weights = np.asarray(ref.CATEGORY_WEIGHTS) / sum(ref.CATEGORY_WEIGHTS)
    category = np.where(rng.random(s) < 0.6, favourite, rng.choice(len(weights), s, p=weights))

    batches = [
        EventBatch.of(start, SESSION, who, js.json_objects(
            s, channel=js.vocabulary(ref.ORDER_CHANNELS, channel))),
        EventBatch.of(start + rng.integers(5, 60, s), PAGE, who,
                      js.json_objects(s, path=js.vocabulary(_CATEGORY_PATHS, category))),
    ]
    searched = rng.random(s) < 0.35
    batches.append(EventBatch.of(
        start[searched] + rng.integers(60, 180, int(searched.sum())), SEARCH, who[searched],
        js.json_objects(int(searched.sum()), query=_search_terms(rng, category[searched]))))

    views = rng.integers(1, 4, s)
    row = np.repeat(np.arange(s), views)
    k = position_in_segment(views)
    at = start[row] + 120 + k * rng.integers(20, 240, len(row))
    product = catalog.pick(category[row], at, rng.random(len(row)))
    product_ids = catalog.ids.take(pa.array(product))
    batches.append(EventBatch.of(at, VIEW, who[row], js.json_objects(
        len(row), product_id=js.string(product_ids))))
    abandoned = np.flatnonzero((k == 0) & (rng.random(len(row)) < 0.12))
    batches.append(EventBatch.of(
        at[abandoned] + rng.integers(30, 300, len(abandoned)), CART, who[row][abandoned],
        js.json_objects(len(abandoned), product_id=js.string(product_ids.take(pa.array(abandoned))),
                        quantity=js.number(np.ones(len(abandoned), np.int64)))))
    # Some carry on to the checkout and leave there (payment, shipping costs).
    left = abandoned[rng.random(len(abandoned)) < ref.CHECKOUT_AFTER_ABANDONED_CART]
    batches.append(EventBatch.of(
        at[left] + rng.integers(400, 900, len(left)), CHECKOUT, who[row][left],
        js.json_objects(len(left), items=js.number(np.ones(len(left), np.int64)))))
    batches += _yesterday_checkouts(rng, buyer, last, catalog, timeline, favourite_of=customers)
    return batches


def _yesterday_checkouts(rng, buyer, last_order_s, catalog: Catalog, timeline: Timeline,
                         favourite_of: Customers) -> list[EventBatch]:
    """A few customers with earlier orders leave a cart and a checkout on the day before the end,
    and order nothing since (for the abandoned-checkout campaign on the sample shop)."""
    yesterday = timeline.end_s - 2 * DAY
    candidates = np.flatnonzero(buyer & (last_order_s < yesterday) & ~favourite_of.staff)
    k = min(len(candidates), max(3, len(candidates) // 150))
    who = np.sort(rng.choice(candidates, size=k, replace=False))
    at = yesterday + rng.integers(8 * 3600, 20 * 3600, k)
    category = favourite_of.favourite_category[who]
    product_ids = catalog.ids.take(pa.array(catalog.pick(category, at, rng.random(k))))
    return [
        EventBatch.of(at, CART, who, js.json_objects(
            k, product_id=js.string(product_ids), quantity=js.number(np.ones(k, np.int64)))),
        EventBatch.of(at + rng.integers(60, 600, k), CHECKOUT, who,
                      js.json_objects(k, items=js.number(np.ones(k, np.int64)))),
    ]


def aftersales_events(book: OrderBook, catalog: Catalog, order_ids: pa.Array) -> list[EventBatch]:
    """Returns, reviews, complaints and support tickets drawn in aftersales.py."""
    o, items = book.orders, book.items
    batches = []
    for flag, time_col, code in (("returned", "return_s", RETURN),
                                 ("reviewed", "review_s", REVIEW)):
        rows = np.flatnonzero(items[flag])
        order = items["order"][rows]
        fields = {"order_id": js.string(order_ids.take(pa.array(order))),
                  "product_id": js.string(catalog.ids.take(pa.array(items["product"][rows])))}
        if code == REVIEW:
            fields["rating"] = js.number(items["rating"][rows])
        batches.append(EventBatch.of(items[time_col][rows], code, o["customer"][order],
                                     js.json_objects(len(rows), **fields)))
    rows = np.flatnonzero(o["complaint"])
    batches.append(EventBatch.of(o["complaint_s"][rows], COMPLAINT, o["customer"][rows],
                                 js.json_objects(len(rows),
                                                 order_id=js.string(order_ids.take(pa.array(rows))),
                                                 reason=js.vocabulary(ref.COMPLAINT_REASONS,
                                                                      o["complaint_reason"][rows]))))
    rows = np.flatnonzero(o["ticket"])
    batches.append(EventBatch.of(o["ticket_s"][rows], TICKET, o["customer"][rows], js.json_objects(
        len(rows), order_id=js.string(order_ids.take(pa.array(rows))),
        first_response_minutes=js.number(o["ticket_minutes"][rows]),
        resolved=js.boolean(o["ticket_resolved"][rows]))))
    return batches


def events_table(batches: list[EventBatch], customers: Customers, timeline: Timeline) -> pa.Table:
    """All events up to the end, in time order, numbered in that order."""
    at_s = np.concatenate([b.at_s for b in batches])
    types = np.concatenate([b.type for b in batches])
    customer = np.concatenate([b.customer for b in batches])
    properties = pa.chunked_array([b.properties for b in batches], pa.string())
    keep = np.flatnonzero((at_s < timeline.end_s) & (at_s >= timeline.start_s))
    order = keep[np.argsort(at_s[keep], kind="stable")]
    n = len(order)
    width = max(9, len(str(n)))
    event_id = pc.binary_join_element_wise(
        "E", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width=width,
                          padding="0"), "")
    who = customer[order]
    return pa.table({
        "event_id": event_id,
        "event_type": pa.array(np.array(EVENT_TYPES, dtype=object)[types[order]], pa.string()),
        "occurred_at": pa.array(at_s[order].astype("datetime64[s]"), pa.timestamp("s", tz="UTC")),
        "customer_id": customers.ids.take(pa.array(who, mask=who < 0)),
        "properties": properties.take(pa.array(order)).combine_chunks(),
    })


def _search_terms(rng, category: np.ndarray):
    term = _TERM_START[category] + rng.integers(0, 1 << 30, len(category)) % _TERM_COUNT[category]
    return js.vocabulary(_SEARCH_TERMS, term)
