"""Order life cycle: payment, shipping, delivery, cancellation, refunds, and the status on the
last day of data (recent orders are still placed / paid / shipped)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.orderbook import CHAIN, TEST, OrderBook
from retention_pipeline.generator.segments import group_any, group_sum
from retention_pipeline.generator.timeline import DAY, Timeline

STATUSES = ("placed", "paid", "shipped", "completed", "cancelled", "refunded",
            "partially_refunded", "test")
PLACED, PAID, SHIPPED, COMPLETED, CANCELLED, REFUNDED, PARTIAL, TEST_STATUS = range(8)


def schedule(rng: np.random.Generator, book: OrderBook, timeline: Timeline) -> None:
    """When each order is paid, shipped, delivered, or cancelled (times may lie after the end)."""
    o, n = book.orders, book.n
    # Most pay at checkout; bank transfers and cash on delivery take hours to days.
    later = rng.random(n) < 0.15
    o["paid_s"] = o["at_s"] + np.where(later, rng.integers(3600, 3 * DAY, n),
                                       rng.integers(30, 900, n))
    o["shipped_s"] = o["paid_s"] + (rng.uniform(0.3, 2.5, n) * DAY).astype(np.int64)
    _deliver(rng, o, n)
    _late_for_yesterday(rng, o, timeline)
    o["cancelled"] = ((rng.random(n) < ref.CANCELLED_SHARE) & ~o["protected"]
                      & (o["kind"] != TEST))
    o["cancel_s"] = np.minimum(o["at_s"] + rng.integers(300, 20 * 3600, n), timeline.end_s - 1)


ON_TIME, SLIGHTLY_LATE, VERY_LATE, LOST = range(4)
_OUTCOME_SHARES = np.array(ref.DELIVERY_OUTCOME_SHARES) / sum(ref.DELIVERY_OUTCOME_SHARES)
LOST_CLOSED_AFTER_S = 7 * DAY


def _deliver(rng: np.random.Generator, o, n: int) -> None:
    """Transit time, the promised day and the outcome against it. A late parcel really took
    longer (`delivered_s` moves); the promise is the day it would have arrived on a normal run."""
    o["delivery"] = rng.choice(len(_OUTCOME_SHARES), n, p=_OUTCOME_SHARES).astype(np.int8)
    normal_s = o["shipped_s"] + (rng.uniform(1, 4, n) * DAY).astype(np.int64)
    days_late = np.select(
        [o["delivery"] == SLIGHTLY_LATE, o["delivery"] == VERY_LATE],
        [rng.integers(1, 3, n), rng.integers(3, 11, n)], -rng.integers(0, 3, n))
    o["delivered_s"] = normal_s + np.maximum(days_late, 0) * DAY
    o["promised_day"] = o["delivered_s"] // DAY - days_late
    o["late"] = (o["delivery"] == VERY_LATE) | (o["delivery"] == LOST)  # complaints follow
    o["lost"] = o["delivery"] == LOST
    o["promise_missing"] = rng.random(n) < ref.PROMISE_MISSING_SHARE


YESTERDAY_LATE = 6  # parcels promised for the day before the end and not there by the end


def _late_for_yesterday(rng: np.random.Generator, o, timeline: Timeline) -> None:
    """A few parcels promised for the day before the end arrive only after the end (for the
    delivery apology on the sample shop; some of their orders may later be cut by dropout)."""
    yesterday = timeline.end_s // DAY - 2
    due = np.flatnonzero((o["promised_day"] == yesterday) & (o["kind"] != TEST)
                         & (o["delivery"] == ON_TIME))
    late = rng.choice(due, size=min(len(due), YESTERDAY_LATE), replace=False)
    o["delivery"][late] = VERY_LATE
    o["late"][late] = True
    o["delivered_s"][late] = timeline.end_s + rng.integers(DAY // 2, 3 * DAY, len(late))


def delivery_survival(o) -> np.ndarray:
    """Factor on the chance of the next purchase after each order, by its delivery outcome."""
    return np.array(ref.DELIVERY_OUTCOME_FACTORS)[o["delivery"]]


def delivery_columns(o, status: np.ndarray, updated_s: np.ndarray) -> dict[str, pa.Array]:
    """shipped_at, delivered_at and promised_delivery_date of order rows as they stood at
    `updated_s` (a version sent on the order's day has not shipped yet). Test and cancelled
    orders never ship; a lost parcel is shipped but never delivered."""
    served = (status != CANCELLED) & (status != TEST_STATUS)
    shipped = served & (o["shipped_s"] <= updated_s)
    delivered = shipped & ~o["lost"] & (o["delivered_s"] <= updated_s)
    promised = o["promised_day"].astype("datetime64[D]")
    return {
        "shipped_at": _masked_times(o["shipped_s"], ~shipped),
        "delivered_at": _masked_times(o["delivered_s"], ~delivered),
        "promised_delivery_date": pa.array(
            promised, pa.date32(), mask=o["promise_missing"] | (status == TEST_STATUS)),
    }


def _masked_times(seconds: np.ndarray, missing: np.ndarray) -> pa.Array:
    values = np.where(missing, 0, seconds).astype("datetime64[s]")
    return pa.array(values, pa.timestamp("s", tz="UTC"), mask=missing)


def settle(rng: np.random.Generator, book: OrderBook, timeline: Timeline) -> None:
    """Refunds and the status as of the end of the last day, with the time of that last change.

    A return request often ends in a refund a few days later (full when every line came back,
    unless a restocking fee is kept; partial otherwise); a few orders are refunded as goodwill
    without a return (lost parcel, damaged box). A refund after the end has not happened yet.
    """
    o, items, n = book.orders, book.items, book.n
    returned = items["returned"]
    line_value = items["quantity"] * items["unit_cents"]
    any_returned = group_any(returned, items["order"], n)
    all_returned = ~group_any(~returned, items["order"], n)
    returned_value = group_sum(np.where(returned, line_value, 0), items["order"], n)
    last_return = np.zeros(n, dtype=np.int64)
    if returned.any():
        np.maximum.at(last_return, items["order"][returned], items["return_s"][returned])

    total = o["total_cents"]
    settled = (o["kind"] != TEST) & ~o["cancelled"] & ~o["protected"] & (total > 0)
    from_return = settled & any_returned & (rng.random(n) < ref.RETURN_REFUND_SHARE)
    goodwill = settled & ~any_returned
    draw = rng.random(n)
    goodwill_full = goodwill & ~from_return & (draw < ref.GOODWILL_FULL_REFUND_SHARE)
    goodwill_part = (goodwill & ~from_return & ~goodwill_full
                     & (draw < ref.GOODWILL_FULL_REFUND_SHARE + ref.GOODWILL_PARTIAL_REFUND_SHARE))
    refund_s = np.where(from_return, last_return + rng.integers(2 * DAY, 7 * DAY, n),
                        o["delivered_s"] + rng.integers(DAY, 10 * DAY, n))

    fee = from_return & all_returned & (rng.random(n) < ref.RESTOCKING_FEE_SHARE)
    full = (from_return & all_returned & ~fee) | goodwill_full
    share = np.where(from_return, returned_value / np.maximum(o["subtotal_cents"], 1),
                     rng.uniform(0.1, 0.4, n))
    share = np.where(fee, rng.uniform(0.8, 0.9, n), share)
    partial_amount = np.clip(np.rint(total * share), 1, total - 1).astype(np.int64)
    partial = ((from_return & (~all_returned | fee)) | goodwill_part) & (total >= 2) & ~full

    o["refund_s"] = np.where(full | partial, refund_s, -1)
    o["refund_cents"] = np.where(full, total, np.where(partial, partial_amount, -1))
    o["status"], o["updated_s"], o["refunded_cents"] = status_at(o, timeline.end_s)
    # Some exports leave a finished order's status empty (the contract reads it as completed).
    o["status_missing"] = ((o["status"] == COMPLETED) & (o["kind"] == CHAIN)
                           & (rng.random(n) < 0.005))


def status_at(o, cutoff_s):
    """(status, updated_s, refunded_cents or -1) of each order as seen at `cutoff_s` (scalar or
    per order): placed -> paid -> shipped -> completed, then refunded; or cancelled; or test."""
    status = np.full(len(o["at_s"]), PLACED, dtype=np.int64)
    updated = o["at_s"].copy()
    # The shop closes a lost parcel's order a week after shipping; it is never delivered.
    delivered = np.where(o["lost"], o["shipped_s"] + LOST_CLOSED_AFTER_S, o["delivered_s"])
    steps = ((PAID, o["paid_s"]), (SHIPPED, o["shipped_s"]), (COMPLETED, delivered))
    for state, at in steps:
        reached = at < cutoff_s
        status = np.where(reached, state, status)
        updated = np.where(reached, at, updated)
    refunded = (o["refund_s"] >= 0) & (o["refund_s"] < cutoff_s)
    full = refunded & (o["refund_cents"] == o["total_cents"])
    status = np.where(refunded, np.where(full, REFUNDED, PARTIAL), status)
    updated = np.where(refunded, o["refund_s"], updated)
    cancelled = o["cancelled"] & (o["cancel_s"] < cutoff_s)
    status = np.where(cancelled, CANCELLED, status)
    updated = np.where(cancelled, o["cancel_s"], updated)
    test = o["kind"] == TEST
    status = np.where(test, TEST_STATUS, status)
    updated = np.where(test, o["at_s"], updated)
    return status.astype(np.int8), updated, np.where(refunded, o["refund_cents"], -1)
