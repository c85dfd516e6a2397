"""After-sales experience of each purchase, and how it changes the chance of the next one.

Bad products (a hidden quality trait) are returned more, complained about more and rated low.
Problems lead to support tickets; the ticket's first response is fast (< 1 h), slow (1-24 h) or
very slow (> 24 h). Each of these lowers the chance that the customer buys again, so the marts
can show it: `survival_after` is that chance, per order, fed to the purchase process's dropout.
"""

from __future__ import annotations

import numpy as np

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.fulfilment import delivery_survival
from retention_pipeline.generator.orderbook import OrderBook
from retention_pipeline.generator.products import Catalog
from retention_pipeline.generator.segments import group_any
from retention_pipeline.generator.timeline import DAY, Timeline

_RETURN_RATE = np.array([c.return_rate for c in ref.CATEGORIES])
_BUCKETS = np.array([b[:2] for b in ref.RESPONSE_BUCKETS])
_BUCKET_SHARE = np.array([b[2] for b in ref.RESPONSE_BUCKETS])
_BUCKET_FACTOR = np.array([b[3] for b in ref.RESPONSE_BUCKETS])
_BUCKET_RESOLVED = np.array([b[4] for b in ref.RESPONSE_BUCKETS])


def draw_experiences(rng: np.random.Generator, book: OrderBook, catalog: Catalog) -> np.ndarray:
    """Adds return / review columns to the lines and complaint / ticket columns to the orders.

    Returns the survival factor per order (1 = no effect on the next purchase).
    """
    o, items, n = book.orders, book.items, book.n
    m = len(items)
    served = ~o["cancelled"][items["order"]]
    bad_line = catalog.bad_quality[items["product"]]
    return_rate = np.where(bad_line, ref.BAD_QUALITY_RETURN_RATE,
                           _RETURN_RATE[catalog.category[items["product"]]])
    delivered = o["delivered_s"][items["order"]]
    items["returned"] = served & (rng.random(m) < return_rate)
    items["return_s"] = delivered + rng.integers(DAY, 14 * DAY, m)
    review_rate = np.where(bad_line, ref.REVIEW_RATE_BAD_QUALITY, ref.REVIEW_RATE)
    items["reviewed"] = served & (rng.random(m) < review_rate)
    items["rating"] = np.where(bad_line, rng.choice(5, m, p=ref.RATING_WEIGHTS_BAD),
                               rng.choice(5, m, p=ref.RATING_WEIGHTS)) + 1
    items["review_s"] = delivered + rng.integers(2 * DAY, 20 * DAY, m)

    served = ~o["cancelled"]
    has_bad = group_any(bad_line, items["order"], n)
    returned = group_any(items["returned"], items["order"], n)
    complaint_rate = np.where(has_bad, ref.COMPLAINT_RATE_BAD_QUALITY, ref.COMPLAINT_RATE)
    complaint_rate = complaint_rate + np.where(o["late"], 0.05, 0.0)
    o["complaint"] = served & (rng.random(n) < complaint_rate)
    o["complaint_s"] = o["delivered_s"] + rng.integers(0, 5 * DAY, n)
    o["complaint_reason"] = np.where(o["late"], 0, np.where(has_bad, 2, rng.integers(1, 5, n)))

    problem = returned | o["complaint"] | has_bad
    o["ticket"] = served & (rng.random(n) < np.where(problem, ref.TICKET_RATE_AFTER_PROBLEM,
                                                      ref.TICKET_RATE))
    o["ticket_s"] = o["shipped_s"] + rng.integers(0, 8 * DAY, n)
    bucket = rng.choice(len(_BUCKET_SHARE), n, p=_BUCKET_SHARE)
    low, high = _BUCKETS[bucket, 0], _BUCKETS[bucket, 1]
    o["ticket_minutes"] = low + (rng.random(n) * (high - low)).astype(np.int64)
    o["ticket_resolved"] = rng.random(n) < _BUCKET_RESOLVED[bucket]

    survive = np.ones(n)
    survive *= np.where(returned | o["complaint"], ref.RETURN_OR_COMPLAINT_FACTOR, 1.0)
    survive *= np.where(o["ticket"], _BUCKET_FACTOR[bucket], 1.0)
    survive *= np.where(o["ticket"] & ~o["ticket_resolved"], ref.UNRESOLVED_TICKET_FACTOR, 1.0)
    survive *= np.where(has_bad & served, ref.BAD_PRODUCT_FACTOR, 1.0)
    survive *= np.where((o["seq"] == 0) & (o["coupon"] >= 0), ref.FIRST_ORDER_COUPON_FACTOR, 1.0)
    survive *= np.where(served, delivery_survival(o), 1.0)
    survive *= o["tier_factor"]  # trading down precedes leaving (orders.py)
    return survive


def no_experiences(book: OrderBook) -> None:
    """The columns of `draw_experiences`, all empty (orders outside the customer process)."""
    o, items, n, m = book.orders, book.items, book.n, len(book.items)
    for column in ("returned", "reviewed"):
        items[column] = np.zeros(m, dtype=bool)
    for column in ("return_s", "review_s", "rating"):
        items[column] = np.zeros(m, dtype=np.int64)
    for column in ("complaint", "ticket", "ticket_resolved"):
        o[column] = np.zeros(n, dtype=bool)
    for column in ("complaint_s", "complaint_reason", "ticket_s", "ticket_minutes"):
        o[column] = np.zeros(n, dtype=np.int64)


def force_yesterday_cases(rng: np.random.Generator, book: OrderBook, timeline: Timeline) -> None:
    """A return, a complaint and an unresolved ticket on the day before the end (for the
    after-sales follow-up campaign), on recent delivered orders of three different customers."""
    o, items = book.orders, book.items
    yesterday = timeline.end_s - 2 * DAY
    first_item = np.searchsorted(items["order"], np.arange(book.n))
    quiet = ~(o["complaint"] | o["ticket"] | group_any(items["returned"], items["order"], book.n))
    recent = (o["delivered_s"] < yesterday) & (o["at_s"] >= yesterday - 90 * DAY)
    candidates = np.flatnonzero(quiet & recent & ~o["cancelled"] & ~o["protected"])
    _, first_of_customer = np.unique(o["customer"][candidates], return_index=True)
    candidates = candidates[np.sort(first_of_customer)]
    if len(candidates) < 3:
        return
    ret, complaint, ticket = rng.choice(candidates, size=3, replace=False)
    at = yesterday + rng.integers(8 * 3600, 20 * 3600, 3)
    line = first_item[ret]
    items["returned"][line], items["return_s"][line] = True, at[0]
    o["complaint"][complaint], o["complaint_s"][complaint] = True, at[1]
    o["complaint_reason"][complaint] = 1
    o["ticket"][ticket], o["ticket_s"][ticket] = True, at[2]
    o["ticket_minutes"][ticket], o["ticket_resolved"][ticket] = 300, False
