"""marts.dim_customers_history: one row per customer with an occasion and as-of date.

A run replaces the rows of its own as-of date (delete + insert in one transaction): re-running a
day never duplicates it, and a backfill, one run per day, fills every day it covers.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.predictions.tables import CUSTOMER_PREDICTIONS, relation_exists
from retention_pipeline.warehouse import replace_day

HISTORY = "marts.dim_customers_history"
DIM_CUSTOMERS = "marts.dim_customers"
COLUMNS = {
    "as_of_date": "DATE",
    "customer_id": "VARCHAR",
    "rfm_segment": "VARCHAR",
    "member_tier": "VARCHAR",
    "recency_days": "INTEGER",
    "occasions": "BIGINT",
    "net_revenue_365d": "DECIMAL(18,4)",
    "p_alive": "DOUBLE",
}


def ensure_history(con: duckdb.DuckDBPyConnection) -> None:
    """The history table (kept with its rows); columns added since are added (NULL)."""
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE TABLE IF NOT EXISTS {HISTORY} ({columns})")
    for name, kind in COLUMNS.items():
        con.execute(f"ALTER TABLE {HISTORY} ADD COLUMN IF NOT EXISTS {name} {kind}")


def write_customer_snapshot(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """Replace the snapshot of `as_of` by marts.dim_customers as built for that day, with the
    day's P(alive) (null when the predictions were not written for that day). Returns its rows."""
    # the predictions of this as-of date only: an older table would give yesterday's numbers
    predictions = (
        f"(select customer_id, p_alive from {CUSTOMER_PREDICTIONS} where as_of_date = $as_of)"
        if relation_exists(con, CUSTOMER_PREDICTIONS)
        else "(select cast(null as varchar) as customer_id, cast(null as double) as p_alive)"
    )
    ensure_history(con)
    return replace_day(
        con,
        HISTORY,
        as_of,
        f"""({", ".join(COLUMNS)})
        select $as_of, d.customer_id, d.rfm_segment, d.member_tier, d.recency_days,
               d.occasions, d.net_revenue_365d, p.p_alive
        from {DIM_CUSTOMERS} as d
        left join {predictions} as p on p.customer_id = d.customer_id
        where d.occasions > 0""",
    )
