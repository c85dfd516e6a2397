"""Headline numbers of the retention marts, read from the marts themselves (one small query each)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class PeriodRate:
    """A rate of one period, with its counts so the UI can show what it rests on."""

    period_start: dt.date
    rate: float | None
    numerator: int
    denominator: int


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"select count(*) from marts.{table}").fetchone()[0]


def latest_complete_month_repeat_rate(con: duckdb.DuckDBPyConnection) -> PeriodRate | None:
    """Repeat purchase rate (≥ 2 occasions ÷ ≥ 1) of the latest complete calendar month with a
    purchase; None when no complete month has one."""
    row = con.execute("""
        select period_start, repeat_purchase_rate, repeat_purchasers, purchasers
        from marts.repurchase_by_period
        where period_granularity = 'month' and is_complete and purchasers > 0
        order by period_start desc
        limit 1
    """).fetchone()
    return PeriodRate(*row) if row else None


def repurchase_rate_90d(con: duckdb.DuckDBPyConnection) -> PeriodRate | None:
    """Share of the customers matured for 90 days who came back within 90 days, over all cohorts
    (period_start: the first cohort); None when nobody has matured yet."""
    row = con.execute("""
        select min(cohort_start), sum(repurchased_customers), sum(matured_customers)
        from marts.repurchase_by_cohort
        where cohort_granularity = 'month' and window_days = 90
    """).fetchone()
    if row is None or not row[2]:
        return None
    first_cohort, repurchased, matured = row
    return PeriodRate(first_cohort, repurchased / matured, int(repurchased), int(matured))
