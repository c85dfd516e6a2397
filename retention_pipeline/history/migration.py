"""marts.segment_migration: customers moving between RFM segments month over month.

Built from the month-end snapshots of marts.dim_customers_history: for every month whose last day
and the previous month's last day both have a snapshot, each customer with a segment at the month
end is counted from their segment at the previous month end ('new' when they had none: a first
purchase during the month) to their segment at this one. Rebuilt whole at every run.
"""

from __future__ import annotations

import duckdb

from retention_pipeline.history.snapshots import HISTORY, ensure_history

MIGRATION = "marts.segment_migration"
NEW = "new"

_BUILD = f"""
create or replace table {MIGRATION} as
with month_ends as (
    select distinct as_of_date from {HISTORY} where as_of_date = last_day(as_of_date)
),

pairs as (
    select e.as_of_date as month_end, p.as_of_date as previous_month_end
    from month_ends as e
    inner join month_ends as p
        on p.as_of_date = last_day(cast(e.as_of_date - interval 1 month as date))
),

moves as (
    select
        cast(date_trunc('month', pairs.month_end) as date) as month,
        pairs.previous_month_end,
        pairs.month_end,
        coalesce(b.rfm_segment, '{NEW}') as from_segment,
        a.rfm_segment as to_segment,
        count(*) as customers
    from pairs
    inner join {HISTORY} as a on a.as_of_date = pairs.month_end and a.rfm_segment is not null
    left join {HISTORY} as b
        on b.as_of_date = pairs.previous_month_end and b.customer_id = a.customer_id
    group by all
)

select
    month,
    previous_month_end,
    month_end,
    from_segment,
    to_segment,
    from_segment = to_segment as is_same_segment,
    customers,
    cast(customers as double) / sum(customers) over (partition by month, from_segment)
        as share_of_from_segment
from moves
order by month, from_segment, to_segment
"""


def build_segment_migration(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild marts.segment_migration; returns its rows."""
    ensure_history(con)
    con.execute(_BUILD)
    return int(con.execute(f"select count(*) from {MIGRATION}").fetchone()[0])


def latest_movement(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(month, from_segment, to_segment, customers) of the latest month, largest moves first."""
    return con.execute(
        f"""
        select month, from_segment, to_segment, customers from {MIGRATION}
        where month = (select max(month) from {MIGRATION})
        order by customers desc, from_segment, to_segment
        """
    ).fetchall()
