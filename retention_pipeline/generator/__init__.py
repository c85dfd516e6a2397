"""The sample shop behind `retention generate`: a realistic, deterministic landing folder.

How the shop behaves (all in `reference.py`):
- customers in eight countries with matching time zones and languages, optional profile fields,
  consents per channel, some who never buy and some who later unsubscribe;
- products in consumable categories with a natural repurchase cycle and in durable ones without;
  launches spread over the history, a few in the last week and a few in the coming days;
- purchases from a buy-till-you-die process (purchases.py), with coupons, cancellations, refunds,
  guests and test orders (orders.py, fulfilment.py);
- after-sales experience (aftersales.py): returns, complaints, bad products and slow support lower
  the chance of the next purchase;
- events: the funnel around each order, browsing, after-sales events, messages (events.py,
  messages.py).

Everything is drawn from numpy PCG64 streams seeded by `seed`: the same arguments give
byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.aftersales import (
    draw_experiences,
    force_yesterday_cases,
    no_experiences,
)
from retention_pipeline.generator.columns import cents_to_decimal, sequential_ids, timestamps
from retention_pipeline.generator.customers import Customers, make_customers
from retention_pipeline.generator.events import (
    aftersales_events,
    browsing_events,
    events_table,
    funnel_events,
)
from retention_pipeline.generator.fulfilment import (
    STATUSES,
    delivery_columns,
    schedule,
    settle,
    status_at,
)
from retention_pipeline.generator.messages import (
    message_events,
    unsubscribe_events,
    unsubscribe_times,
)
from retention_pipeline.generator.orderbook import OrderBook
from retention_pipeline.generator.orders import (
    COUPON_CODES,
    chain_orders,
    companion_orders,
    guest_orders,
    test_orders,
)
from retention_pipeline.generator.products import Catalog, catalog_size, make_catalog
from retention_pipeline.generator.purchases import apply_dropout, simulate_purchases
from retention_pipeline.generator.segments import starts_of
from retention_pipeline.generator.timeline import DAY, Timeline, stream
from retention_pipeline.generator.writer import FORMATS, write_entity

__all__ = ["generate_shop"]

MIN_HISTORY_DAYS = 60


def generate_shop(out_dir: Path, customers: int, seed: int = 42, end: dt.date | None = None,
                  fmt: str = "csv", history_days: int = 730,
                  split_daily: bool = False) -> dict[str, int]:
    """Write customers, products, orders, order_items and events into `out_dir`.

    `end` is the last day of data (default: today, UTC); nothing happens after it except product
    launches announced for the coming days. With `split_daily`, orders, order_items and events
    are folders with one file per day (`orders/2026-11-21.csv`), and an order that changed
    after its day is re-sent in the drop of the day of its last change. Returns rows written per
    entity (with `split_daily`, order rows include those re-sent versions).
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if history_days < MIN_HISTORY_DAYS:
        raise ValueError(f"history_days must be at least {MIN_HISTORY_DAYS}, got {history_days}")
    end = end or dt.datetime.now(dt.UTC).date()
    timeline = Timeline(end=end, days=history_days)

    people = make_customers(stream(seed, "customers"), customers, timeline)
    catalog = make_catalog(stream(seed, "products"), catalog_size(customers), timeline)
    book = _orders(seed, people, catalog, timeline)
    order_ids = sequential_ids("O", book.n, 8)
    versions = _order_versions(book, timeline, split_daily)
    events = _events(seed, people, catalog, book, order_ids, timeline)
    tables = {
        "customers": people.table,
        "products": catalog.table,
        "orders": _orders_table(book, people, order_ids, versions),
        "order_items": _items_table(book, catalog, order_ids),
        "events": events,
    }

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    days = _drop_days(book, versions, events) if split_daily else {}
    for entity, table in tables.items():
        write_entity(out_dir, entity, table, fmt, day=days.get(entity))
    return {entity: table.num_rows for entity, table in tables.items()}


def _orders(seed: int, people: Customers, catalog: Catalog, timeline: Timeline) -> OrderBook:
    """All orders, sorted by time, with lines, after-sales experience and final status."""
    purchases = simulate_purchases(stream(seed, "purchases"), people, timeline)
    rng = stream(seed, "orders")
    chain = chain_orders(rng, purchases, people, catalog)
    schedule(rng, chain, timeline)

    after = stream(seed, "aftersales")
    survive = draw_experiences(after, chain, catalog)
    chain = chain.keep(apply_dropout(after, chain.orders["customer"], survive))
    force_yesterday_cases(after, chain, timeline)

    others = [companion_orders(rng, chain, catalog, timeline),
              guest_orders(rng, chain.n, catalog, timeline),
              test_orders(rng, people, chain.n, catalog, timeline)]
    for other in others:
        schedule(rng, other, timeline)
        no_experiences(other)  # only the customer process has after-sales events
    book = OrderBook.concat([chain, *others])
    settle(rng, book, timeline)
    o = book.orders
    return book.reorder(np.lexsort((o["seq"], o["customer"], o["kind"], o["at_s"])))


def _events(seed, people, catalog, book, order_ids, timeline) -> pa.Table:
    rng = stream(seed, "events")
    messages = stream(seed, "messages")
    unsubscribed = unsubscribe_times(messages, people, timeline)
    batches = [
        *funnel_events(rng, book, catalog),
        *browsing_events(rng, people, book, catalog, timeline),
        *aftersales_events(book, catalog, order_ids),
        *unsubscribe_events(unsubscribed),
        *message_events(messages, people, unsubscribed, timeline),
    ]
    return events_table(batches, people, timeline)


@dataclass
class _OrderVersions:
    """Order rows to write: `row` indexes the book; several rows of one order are versions."""

    row: np.ndarray
    status: np.ndarray
    updated_s: np.ndarray
    refunded_cents: np.ndarray
    status_missing: np.ndarray
    file_day: np.ndarray | None


def _order_versions(book: OrderBook, timeline: Timeline, split_daily: bool) -> _OrderVersions:
    """One row per order with its final state; for daily drops, an order that changed after
    its day is sent twice, as it looked at the end of its day and again (final) in the drop of
    the day of its last change: later `updated_at` replaces (docs/metrics.md#inputs)."""
    o = book.orders
    final = _OrderVersions(np.arange(book.n), o["status"], o["updated_s"], o["refunded_cents"],
                           o["status_missing"], _day(o["updated_s"]) if split_daily else None)
    if not split_daily:
        return final
    order_day = _day(o["at_s"])
    changed = np.flatnonzero(final.file_day > order_day)
    status, updated, refunded = status_at(book.orders, (order_day + 1) * DAY)
    parts = [(changed, status[changed], updated[changed], refunded[changed],
              np.zeros(len(changed), bool), order_day[changed]),
             (final.row, final.status, final.updated_s, final.refunded_cents,
              final.status_missing, final.file_day)]
    merged = [np.concatenate(column) for column in zip(*parts, strict=True)]
    by_file = np.lexsort((merged[0], merged[5]))  # by file day, then order
    return _OrderVersions(*(column[by_file] for column in merged))


def _orders_table(book: OrderBook, people: Customers, order_ids: pa.Array,
                  v: _OrderVersions) -> pa.Table:
    o = book.orders.take(v.row)
    status = np.array(STATUSES, dtype=object)[v.status]
    coupon = np.array(COUPON_CODES, dtype=object)[np.maximum(o["coupon"], 0)]
    channel = np.array(ref.ORDER_CHANNELS, dtype=object)[o["channel"]]
    return pa.table({
        "order_id": order_ids.take(pa.array(v.row)),
        "customer_id": people.ids.take(pa.array(o["customer"], mask=o["customer"] < 0)),
        "ordered_at": timestamps(o["at_s"]),
        "total_amount": cents_to_decimal(o["total_cents"]),
        "status": pa.array(status, pa.string(), mask=v.status_missing),
        "currency": pa.array(np.full(len(v.row), ref.CURRENCY, dtype=object), pa.string()),
        "discount_amount": cents_to_decimal(o["discount_cents"]),
        "refunded_amount": cents_to_decimal(v.refunded_cents, mask=v.refunded_cents < 0),
        "coupon_code": pa.array(coupon, pa.string(), mask=o["coupon"] < 0),
        "channel": pa.array(channel, pa.string()),
        **delivery_columns(o, v.status, v.updated_s),
        "updated_at": timestamps(v.updated_s),
    })


def _items_table(book: OrderBook, catalog: Catalog, order_ids: pa.Array) -> pa.Table:
    items = book.items
    order_id = order_ids.take(pa.array(items["order"]))
    line_no = np.arange(len(items)) - starts_of(items["order"]) + 1
    line_id = pc.binary_join_element_wise(
        order_id, pc.cast(pa.array(line_no), pa.string()), "-")
    return pa.table({
        "order_id": order_id,
        "product_id": catalog.ids.take(pa.array(items["product"])),
        "quantity": pa.array(items["quantity"], pa.int64()),
        "unit_price": cents_to_decimal(items["unit_cents"]),
        "line_id": line_id,
    })


def _drop_days(book: OrderBook, versions: _OrderVersions, events: pa.Table) -> dict:
    """The day file of each row of the daily drops; lines travel with their order."""
    event_s = events.column("occurred_at").to_numpy().astype("datetime64[s]").astype(np.int64)
    return {"orders": versions.file_day,
            "order_items": _day(book.orders["at_s"])[book.items["order"]],
            "events": _day(event_s)}


def _day(seconds: np.ndarray) -> np.ndarray:
    """UTC day number (days since 1970-01-01)."""
    return np.asarray(seconds, dtype=np.int64) // DAY
