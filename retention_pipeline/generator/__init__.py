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
from retention_pipeline.generator.writer import FORMATS, LandingWriter

__all__ = ["generate_shop"]

MIN_HISTORY_DAYS = 60
CHUNK_CUSTOMERS = 50_000  # customers generated and written together: bounds the memory
_PILOT_CUSTOMERS = 20_000  # customers of the trial runs that find the purchase intensity


def generate_shop(out_dir: Path, customers: int, seed: int = 42, end: dt.date | None = None,
                  fmt: str = "csv", history_days: int = 730, split_daily: bool = False,
                  orders_per_customer: float | None = None, days: int = 0,
                  chunk_customers: int = CHUNK_CUSTOMERS) -> dict[str, int]:
    """Write customers, products, orders, order_items and events into `out_dir`.

    `end` is the last day of data (default: today, UTC); nothing happens after it except product
    launches announced for the coming days. `orders_per_customer` (default: the shop's natural
    ~1.5) is the mean number of orders per customer to aim at. With `days` = N, orders,
    order_items and events are folders with one file per day for the last N days
    (`orders/2026-11-21.csv`) and one history file for the days before
    (`orders/2026-11-18-history.csv`); `split_daily` makes every day a drop. An order that
    changed after its file's day is re-sent in the drop of the day of its last change.
    Customers are generated and written `chunk_customers` at a time (memory of one chunk); a
    shop of at most one chunk is the same for a seed whatever the chunk size. Returns rows
    written per entity (with daily drops, order rows include the re-sent versions).
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if history_days < MIN_HISTORY_DAYS:
        raise ValueError(f"history_days must be at least {MIN_HISTORY_DAYS}, got {history_days}")
    if days < 0:
        raise ValueError(f"days must be 0 or more, got {days}")
    if orders_per_customer is not None and not orders_per_customer > 0:
        raise ValueError(f"orders_per_customer must be positive, got {orders_per_customer}")
    if chunk_customers < 1:
        raise ValueError(f"chunk_customers must be at least 1, got {chunk_customers}")
    end = end or dt.datetime.now(dt.UTC).date()
    timeline = Timeline(end=end, days=history_days)
    first_day = _day(timeline.start_s)
    drops_from = first_day if split_daily or days >= history_days else (
        _day(timeline.end_s) - days if days else None)

    catalog = make_catalog(stream(seed, "products"), catalog_size(customers), timeline)
    intensity = 1.0 if orders_per_customer is None else _intensity_for(
        orders_per_customer, seed, customers, catalog, timeline)
    shop = _Shop(seed, catalog, timeline, intensity, drops_from,
                 id_width=max(6, len(str(customers))))
    rows = dict.fromkeys(("customers", "products", "orders", "order_items", "events"), 0)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = None if drops_from in (None, first_day) else drops_from - 1
    with LandingWriter(out_dir, fmt, history_day=history) as writer:
        writer.write("products", catalog.table)
        rows["products"] = catalog.table.num_rows
        for chunk, first in enumerate(range(0, customers, chunk_customers)):
            n = min(chunk_customers, customers - first)
            for entity, (table, day) in shop.chunk(chunk, first, n).items():
                writer.write(entity, table, day=day)
                rows[entity] += table.num_rows
    return rows


class _Shop:
    """The parts shared by every chunk, and the running ids that continue across chunks."""

    def __init__(self, seed, catalog: Catalog, timeline: Timeline, intensity: float,
                 drops_from: int | None, id_width: int):
        self.seed, self.catalog, self.timeline = seed, catalog, timeline
        self.intensity, self.drops_from, self.id_width = intensity, drops_from, id_width
        self.orders_before = self.events_before = 0

    def chunk(self, chunk: int, first: int, n: int) -> dict[str, tuple[pa.Table, np.ndarray]]:
        """Customers first+1 .. first+n with their orders, lines and events, each table with the
        file day of its rows (None: a single file)."""
        seed, catalog, timeline = self.seed, self.catalog, self.timeline
        people = make_customers(stream(seed, "customers", chunk), n, timeline,
                                first_id=first + 1, id_width=self.id_width)
        book = _orders(seed, people, catalog, timeline, chunk, self.intensity)
        order_ids = sequential_ids("O", book.n, 8, start=self.orders_before + 1)
        versions = _order_versions(book, self.drops_from)
        events = _events(seed, people, catalog, book, order_ids, timeline, chunk)
        events = _renumbered(events, self.events_before)
        self.orders_before += book.n
        self.events_before += events.num_rows
        days = _drop_days(book, versions, events, self.drops_from)
        return {
            "customers": (people.table, None),
            "orders": (_orders_table(book, people, order_ids, versions), days.get("orders")),
            "order_items": (_items_table(book, catalog, order_ids), days.get("order_items")),
            "events": (events, days.get("events")),
        }


def _intensity_for(target: float, seed: int, customers: int, catalog: Catalog,
                   timeline: Timeline) -> float:
    """The purchase intensity whose shop has `target` orders per customer, found by bisection
    (in log space) on trial runs of up to _PILOT_CUSTOMERS customers of the same seed."""
    n = min(customers, _PILOT_CUSTOMERS)
    people = make_customers(stream(seed, "customers"), n, timeline)

    def orders_per_customer(intensity: float) -> float:
        return _orders(seed, people, catalog, timeline, 0, intensity).n / n

    low, high = 0.05, 64.0
    for _ in range(14):
        middle = float(np.sqrt(low * high))
        if orders_per_customer(middle) < target:
            low = middle
        else:
            high = middle
        if high / low < 1.02:
            break
    return float(np.sqrt(low * high))


def _orders(seed: int, people: Customers, catalog: Catalog, timeline: Timeline,
            chunk: int = 0, intensity: float = 1.0) -> OrderBook:
    """All orders, sorted by time, with lines, after-sales experience and final status."""
    purchases = simulate_purchases(stream(seed, "purchases", chunk), people, timeline, intensity)
    rng = stream(seed, "orders", chunk)
    chain = chain_orders(rng, purchases, people, catalog)
    schedule(rng, chain, timeline)

    after = stream(seed, "aftersales", chunk)
    # A busier shop also forgives more: after-sales dropout softened like the purchase dropout.
    survive = draw_experiences(after, chain, catalog) ** (1 / intensity)
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


def _events(seed, people, catalog, book, order_ids, timeline, chunk: int = 0) -> pa.Table:
    rng = stream(seed, "events", chunk)
    messages = stream(seed, "messages", chunk)
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


def _order_versions(book: OrderBook, drops_from: int | None) -> _OrderVersions:
    """One row per order with its final state; for daily drops (from UTC day `drops_from` on,
    earlier days in the history file of day drops_from - 1), an order that changed after its
    file's day is sent twice: as it looked at the end of that day, and again (final) in the drop
    of the day of its last change: later `updated_at` replaces (docs/metrics.md#inputs)."""
    o = book.orders
    if drops_from is None:
        return _OrderVersions(np.arange(book.n), o["status"], o["updated_s"],
                              o["refunded_cents"], o["status_missing"], None)
    final = _OrderVersions(np.arange(book.n), o["status"], o["updated_s"], o["refunded_cents"],
                           o["status_missing"], _file_day(o["updated_s"], drops_from))
    order_day = _file_day(o["at_s"], drops_from)
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


def _drop_days(book: OrderBook, versions: _OrderVersions, events: pa.Table,
               drops_from: int | None) -> dict:
    """The file day of each row of the daily drops; lines travel with their order."""
    if drops_from is None:
        return {}
    event_s = events.column("occurred_at").to_numpy().astype("datetime64[s]").astype(np.int64)
    return {"orders": versions.file_day,
            "order_items": _file_day(book.orders["at_s"], drops_from)[book.items["order"]],
            "events": _file_day(event_s, drops_from)}


def _renumbered(events: pa.Table, before: int) -> pa.Table:
    """Event ids continue after the `before` events of the earlier chunks."""
    if before == 0:
        return events
    ids = sequential_ids("E", events.num_rows, 9, start=before + 1)
    return events.set_column(events.schema.get_field_index("event_id"), "event_id", ids)


def _file_day(seconds: np.ndarray, drops_from: int) -> np.ndarray:
    """The UTC day of the file a row at `seconds` goes to: its day, or the history's."""
    return np.maximum(_day(seconds), drops_from - 1)


def _day(seconds) -> np.ndarray:
    """UTC day number (days since 1970-01-01)."""
    return np.asarray(seconds, dtype=np.int64) // DAY
