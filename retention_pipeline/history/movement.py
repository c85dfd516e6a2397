"""The latest month of marts.segment_migration, read from the dbt target, for the metadata of the
history models (the movement table in the Dagster UI)."""

from __future__ import annotations

import datetime as dt

MIGRATION = ("marts", "segment_migration")
HISTORY = ("marts", "dim_customers_history")


def latest_movement(settings) -> list[tuple]:
    """(month, from_segment, to_segment, customers) of the latest month, largest moves first."""
    from retention_pipeline.targets.read import read_table, table_exists

    if not table_exists(settings, *MIGRATION):
        return []
    rows = read_table(settings, *MIGRATION,
                      ["month", "from_segment", "to_segment", "customers"]).to_pylist()
    if not rows:
        return []
    months = [_day(r["month"]) for r in rows]
    latest = max(months)
    moves = [(latest, r["from_segment"], r["to_segment"], int(r["customers"]))
             for r, month in zip(rows, months) if month == latest]
    return sorted(moves, key=lambda m: (-m[3], m[1], m[2]))


def days_kept(settings) -> int:
    """The as-of dates the customer history holds (counted in the target: it grows by every
    customer each day)."""
    from retention_pipeline.targets.read import distinct_count

    return distinct_count(settings, *HISTORY, "as_of_date") or 0


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
