"""Great Expectations suites for the raw tables, run on the day's batch (`_batch_date` = as-of).

Imported only inside the check functions: Great Expectations is slow to import.

Blocking (severity "error") vs warning — the rule: an expectation blocks when a violation means the
ingestion contract broke (docs/metrics.md#bad-input sends such rows to `raw.quarantine`, so they
must never reach `raw`) *and* the row would change the numbers that exports are built on. It warns when the row is
kept by design, or when dbt already ignores it, so the marts stay right and only a person needs to
look.

Blocking:
- keys not null: keyless rows are quarantined; in staging they would become one phantom entity.
- (key, updated_at) unique within the batch for customers / products / orders: conflicting
  versions are quarantined; two versions with the same `updated_at` leave staging to pick one by
  load order, so an amount or a consent flag could come from either.
- amounts / prices in 0..`AMOUNT_LIMIT`, quantity in 0..`QUANTITY_LIMIT` (ingestion's own limits):
  negative and absurd numbers are quarantined; an absurd total is a unit or parse error that would
  inflate revenue, member tiers and CLV, and with them who gets VIP campaigns.
- ordered_at not before 1990: an epoch / parse error would open a bogus ancient cohort.
- events: event_id, event_type, occurred_at not null: an unsubscribe without a time cannot be
  honoured, and consent must not be guessed.

Warnings:
- orders.customer_id not in raw.customers (up to the as-of batch): unknown customers are kept and
  flagged (`is_known_customer`) by design; their customer row may arrive later.
- order_items.order_id not in raw.orders (up to the as-of batch): the item is kept and joins once
  its order arrives; until then only product marts miss it.
- ordered_at / occurred_at after the end of the as-of day + 1 day (the day of slack covers every
  UTC offset): dbt ignores rows after the as-of day, so the day's numbers are unaffected; in a
  daily run many of them point at a clock or time-zone bug in the feed. A backfill of an old day
  that loads today's files shows them too, by design: ingestion keeps such rows (its cutoff is
  never earlier than now) and the warning says how many the day ignores.
- status neither the contract's nor mapped by the seed order_status_map: kept, but not a valid
  purchase (invalid_reason `unknown_status`) until someone maps it.
- refunded_amount > total_amount: counted as fully refunded, which is the safe reading.
- quantity = 0, discount < 0, review rating outside 1..5, birthdays / time zones that cannot be
  right: they touch one mart column or one campaign, never the headline numbers.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

# The limits ingestion quarantines by are the limits checked here: one definition.
from retention_pipeline.ingestion.schema import (
    AMOUNT_LIMIT,
    FUTURE_TOLERANCE,
    QUANTITY_LIMIT,
)
from retention_pipeline.quality.frames import Frame
from retention_pipeline.quality.gx import gxe
from retention_pipeline.quality.gx_runner import ERROR, WARN
from retention_pipeline.status_map import known_statuses

EARLIEST = dt.datetime(1990, 1, 1)


def latest_allowed(as_of: dt.date) -> dt.datetime:
    """End of the as-of day plus one day of time-zone slack, as naive UTC (the raw layer's time)."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()) + FUTURE_TOLERANCE


def _meta(severity: str, why: str) -> dict:
    return {"severity": severity, "why": why}


def _not_null(column: str, why: str):
    return gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(ERROR, why))


def _unique_versions(key: str):
    return gxe.ExpectCompoundColumnsToBeUnique(
        column_list=[key, "updated_at"],
        meta=_meta(ERROR, f"conflicting versions of one {key} (same updated_at) must be quarantined"),
    )


def _between(column: str, severity: str, why: str, low=None, high=None):
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, meta=_meta(severity, why)
    )



def orders_suite(as_of: dt.date) -> list:
    return [
        _not_null("order_id", "keyless orders must be quarantined"),
        _not_null("ordered_at", "orders without a parseable time must be quarantined"),
        _not_null("total_amount", "orders without a parseable amount must be quarantined"),
        _unique_versions("order_id"),
        _between("total_amount", ERROR, "negative or absurd totals distort revenue and tiers",
                 0, AMOUNT_LIMIT),
        _between("refunded_amount", ERROR, "negative refunds must be quarantined", 0, AMOUNT_LIMIT),
        _between("ordered_at", ERROR, "pre-1990 orders are parse errors that open bogus cohorts",
                 EARLIEST),
        _between("ordered_at", WARN, "orders after the as-of day are ignored by dbt; many point "
                 "at a clock or time-zone bug", high=latest_allowed(as_of)),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=list(known_statuses()),
            meta=_meta(WARN, "orders of unknown statuses are not counted as purchases until the "
                       "status is mapped in seeds/order_status_map.csv"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="total_amount", column_B="refunded_amount", or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta(WARN, "over-refunded orders are read as fully refunded"),
        ),
        _between("discount_amount", WARN, "a negative discount is a surcharge; check the feed", 0),
        gxe.ExpectColumnValuesToBeNull(
            column="unknown_customer_id",
            meta=_meta(WARN, "orders of customers not (yet) in raw.customers are kept and flagged"),
        ),
    ]


def customers_suite(as_of: dt.date) -> list:
    return [
        _not_null("customer_id", "keyless customers must be quarantined"),
        _unique_versions("customer_id"),
        gxe.ExpectColumnValuesToMatchRegex(
            column="email", regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            meta=_meta(WARN, "an email address without a name, '@' and a domain cannot be sent to"),
        ),
        _between("birthday", WARN, "a birthday outside 1900..as-of sends a wrong greeting",
                 dt.datetime(1900, 1, 1), dt.datetime.combine(as_of, dt.time())),
        gxe.ExpectColumnValuesToBeInSet(
            column="timezone", value_set=sorted(zoneinfo.available_timezones()),
            meta=_meta(WARN, "an unknown time zone falls back to the store's for quiet hours"),
        ),
    ]


def products_suite(as_of: dt.date) -> list:
    return [
        _not_null("product_id", "keyless products must be quarantined"),
        _unique_versions("product_id"),
        _between("price", ERROR, "negative prices must be quarantined", 0, AMOUNT_LIMIT),
        _between("launched_at", WARN, "launch dates before 1990 are parse errors", EARLIEST),
    ]


def order_items_suite(as_of: dt.date) -> list:
    return [
        _not_null("order_id", "items without an order id must be quarantined"),
        _not_null("product_id", "items without a product id must be quarantined"),
        _between("quantity", ERROR, "negative or absurd quantities must be quarantined",
                 0, QUANTITY_LIMIT),
        _between("unit_price", ERROR, "negative or absurd unit prices must be quarantined",
                 0, AMOUNT_LIMIT),
        _between("quantity", WARN, "zero-quantity lines count no units", 1),
        gxe.ExpectColumnValuesToBeNull(
            column="unknown_order_id",
            meta=_meta(WARN, "items whose order is not (yet) in raw.orders join once it arrives"),
        ),
    ]


def events_suite(as_of: dt.date) -> list:
    return [
        _not_null("event_id", "keyless events must be quarantined"),
        _not_null("event_type", "events without a type must be quarantined"),
        _not_null("occurred_at", "an event without a time (e.g. an unsubscribe) cannot be honoured"),
        _between("occurred_at", WARN, "events outside 1990..as-of+1 day are ignored or wrong",
                 EARLIEST, latest_allowed(as_of)),
        _between("review_rating", WARN, "review ratings are 1..5 (docs/metrics.md#inputs)", 1, 5),
    ]


# Each frame reads the day's batch (`scope`); lookups read every batch up to the as-of date,
# since a customer or an order may have arrived on an earlier day.
RAW_FRAMES: dict[str, Frame] = {
    "orders": Frame(
        name="raw.orders",
        table="raw.orders",
        key="order_id",
        batch_only=True,
        expectations=orders_suite,
        sql="""
        select
            o.order_id, o.updated_at, o.ordered_at, replace(o.status, '-', '_') as status,
            cast(o.total_amount as double) as total_amount,
            cast(o.refunded_amount as double) as refunded_amount,
            cast(o.discount_amount as double) as discount_amount,
            case when o.customer_id is not null and not exists (
                select 1 from raw.customers as c
                where c.customer_id = o.customer_id and c._batch_date <= $as_of
            ) then o.customer_id end as unknown_customer_id
        from scope as o
        """,
    ),
    "customers": Frame(
        name="raw.customers",
        table="raw.customers",
        key="customer_id",
        batch_only=True,
        expectations=customers_suite,
        sql="select customer_id, updated_at, email, cast(birthday as timestamp) as birthday, "
        "timezone from scope",
    ),
    "products": Frame(
        name="raw.products",
        table="raw.products",
        key="product_id",
        batch_only=True,
        expectations=products_suite,
        sql="select product_id, updated_at, cast(price as double) as price, launched_at from scope",
    ),
    "order_items": Frame(
        name="raw.order_items",
        table="raw.order_items",
        key="order_id",
        batch_only=True,
        expectations=order_items_suite,
        sql="""
        select
            i.order_id, i.product_id, i.quantity,
            cast(i.unit_price as double) as unit_price,
            case when i.order_id is not null and not exists (
                select 1 from raw.orders as o
                where o.order_id = i.order_id and o._batch_date <= $as_of
            ) then i.order_id end as unknown_order_id
        from scope as i
        """,
    ),
    "events": Frame(
        name="raw.events",
        table="raw.events",
        key="event_id",
        batch_only=True,
        expectations=events_suite,
        sql="""
        select
            event_id, event_type, occurred_at,
            case when event_type = 'review'
                then try_cast(json_extract_string(properties, '$.rating') as double)
            end as review_rating
        from scope
        """,
    ),
}
