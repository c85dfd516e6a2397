"""`marts.replenishment_cycles`: how many days after buying a category a customer buys it again.

Per category, the cycle is the median of the gaps, in days, between consecutive purchase
occasions of one customer that contain the category (docs/metrics.md#replenishment-cycles): a
customer who bought coffee on 1 March, 31 March and 5 May adds the gaps 30 and 35. Occasions are local dates with a valid
order (int_orders.is_valid_purchase), so two orders of the same day are one occasion. Every gap
counts once, so a frequent buyer adds more gaps than an occasional one. A category needs at
least `cycle_min_samples` gaps for an observed cycle.

The seed `replenishment_cycle_overrides` (schema `seeds`) replaces observed cycles: a row with
cycle_days sets the category's cycle (source 'override'), a row with an empty cycle_days removes
the category. Only categories with a known cycle are written (docs/design.md). All of it is one
set-based query over order items, orders and products.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from .tables import (
    CYCLE_OVERRIDES,
    ORDER_ITEMS,
    ORDERS,
    PRODUCTS,
    REPLENISHMENT_CYCLES,
    column_list,
    empty_table,
    relation_exists,
)

# The staging layer's name for products without a category: no reminder can name such a cycle.
UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True)
class CyclesOutcome:
    rows: int
    observed: int
    overridden: int
    removed_by_override: int
    too_few_samples: int
    notes: tuple[str, ...] = ()


def build_replenishment_cycles(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, min_samples: int
) -> CyclesOutcome:
    """Replace `marts.replenishment_cycles` with the cycles seen up to the end of `as_of`."""
    if min_samples < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples}")
    notes = []
    have_items = all(relation_exists(con, r) for r in (ORDERS, ORDER_ITEMS, PRODUCTS))
    if not have_items:
        notes.append(f"{ORDERS}, {ORDER_ITEMS} or {PRODUCTS} missing: no observed cycles")
    have_overrides = relation_exists(con, CYCLE_OVERRIDES)
    if not have_overrides:
        notes.append(f"{CYCLE_OVERRIDES} missing (dbt seed not built): no overrides")
    con.execute(
        "create or replace temp table _cycle_candidates as "
        + _candidates_sql(as_of, min_samples, have_items, have_overrides)
    )
    try:
        _replace_cycles(con)
        counts = con.execute(
            f"""
            select
                count(*) filter (where keep),
                count(*) filter (where keep and source = 'observed'),
                count(*) filter (where keep and source = 'override'),
                count(*) filter (where removed),
                count(*) filter (where source = 'observed' and sample_size < {int(min_samples)})
            from _cycle_candidates
            """
        ).fetchall()[0]
    finally:
        con.execute("drop table if exists _cycle_candidates")
    rows, observed, overridden, removed, too_few = (int(c) for c in counts)
    return CyclesOutcome(rows, observed, overridden, removed, too_few, tuple(notes))


def _replace_cycles(con: duckdb.DuckDBPyConnection) -> None:
    """Swap in the kept candidates atomically: a reader never sees a half-written table."""
    con.execute("begin transaction")
    try:
        empty_table(con, REPLENISHMENT_CYCLES)
        con.execute(
            f"insert into {REPLENISHMENT_CYCLES} ({column_list(REPLENISHMENT_CYCLES)}) "
            f"select {column_list(REPLENISHMENT_CYCLES)} from _cycle_candidates "
            "where keep order by category"
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _candidates_sql(as_of: dt.date, min_samples: int, have_items: bool, have_overrides: bool) -> str:
    """Every category seen or overridden, with its cycle and whether it is kept."""
    observed = _observed_sql(as_of) if have_items else _NO_OBSERVED
    overrides = (
        f"""select lower(trim(category)) as category, cast(cycle_days as double) as cycle_days
            from {CYCLE_OVERRIDES}
            where nullif(trim(category), '') is not null"""
        if have_overrides
        else _NO_OVERRIDES
    )
    return f"""
with observed as ({observed}),
overrides as ({overrides}),
categories as (
    select
        coalesce(o.category, v.category) as category,
        v.category is not null as overridden,
        v.cycle_days as override_days,
        o.cycle_days as observed_days,
        coalesce(o.sample_size, 0) as sample_size
    from observed as o
    full outer join overrides as v on v.category = o.category
)
select
    category,
    case when overridden then override_days else observed_days end as cycle_days,
    sample_size,
    case when overridden then 'override' else 'observed' end as source,
    overridden and override_days is null as removed,
    case
        when overridden then override_days is not null
        else sample_size >= {int(min_samples)} and category <> '{UNCATEGORIZED}'
    end as keep
from categories
"""


def _observed_sql(as_of: dt.date) -> str:
    return f"""
    with category_occasions as (
        -- one row per customer, category and occasion date that contains the category
        select distinct o.customer_id, p.category, o.order_date
        from {ORDERS} as o
        join {ORDER_ITEMS} as i on i.order_id = o.order_id
        join {PRODUCTS} as p on p.product_id = i.product_id
        where o.is_valid_purchase and o.order_date <= date '{as_of.isoformat()}'
    ),
    gaps as (
        select
            category,
            date_diff(
                'day',
                lag(order_date) over (partition by customer_id, category order by order_date),
                order_date
            ) as gap_days
        from category_occasions
    )
    select category, median(gap_days) as cycle_days, count(gap_days) as sample_size
    from gaps
    where gap_days is not null
    group by category
    """


_NO_OBSERVED = (
    "select cast(null as varchar) as category, cast(null as double) as cycle_days, "
    "cast(0 as bigint) as sample_size where false"
)
_NO_OVERRIDES = (
    "select cast(null as varchar) as category, cast(null as double) as cycle_days where false"
)
