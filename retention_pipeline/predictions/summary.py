"""Per-customer (x, t_x, T, monetary) summary of purchase occasions up to a calibration end date.

Input rows: customer_id, occasion_date, occasion_value (rows of one customer on one date are
summed into one occasion, so raw transactions work too). Occasions after `end_date` are ignored;
customers whose first occasion is after it are absent. In units of `unit_days` days (1 = days,
7 = weeks):

    x        = occasions - 1 (repeat occasions)
    t_x      = (last occasion date - first occasion date) / unit_days
    T        = (end_date - first occasion date) / unit_days    (end_date is the last day included)
    monetary = mean value of the repeat occasions (first excluded), NULL/NaN when x = 0

This reproduces lifetimes' CDNOW summaries with end_date 1997-09-30 and unit_days 7
(1997-10-01 would add 1/7 week to every T). `summary_sql` is the same computation as one
DuckDB aggregate, for the production path; `customer_summary` is its pandas twin.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

COLUMNS = ["customer_id", "x", "t_x", "T", "monetary"]


def _checked(end_date: str | dt.date, unit_days: float) -> tuple[dt.date, float]:
    end = end_date if isinstance(end_date, dt.date) else dt.date.fromisoformat(str(end_date))
    unit = float(unit_days)
    if not (math.isfinite(unit) and unit > 0):
        raise ValueError(f"unit_days must be a positive number, got {unit_days!r}")
    return end, unit


def customer_summary(
    occasions: pd.DataFrame, end_date: str | dt.date, unit_days: float = 1.0
) -> pd.DataFrame:
    """The summary as a DataFrame with COLUMNS, one row per customer, sorted by customer_id."""
    end, unit = _checked(end_date, unit_days)
    missing = {"customer_id", "occasion_date", "occasion_value"} - set(occasions.columns)
    if missing:
        raise ValueError(f"occasions lack column(s) {sorted(missing)}")
    frame = pd.DataFrame(
        {
            "customer_id": occasions["customer_id"],
            "day": pd.to_datetime(occasions["occasion_date"]).dt.normalize(),
            "value": occasions["occasion_value"].astype(float),
        }
    )
    frame = frame[frame["day"] <= pd.Timestamp(end)]
    daily = frame.groupby(["customer_id", "day"], as_index=False, sort=True)["value"].sum()
    per_customer = daily.groupby("customer_id", sort=True).agg(
        first=("day", "min"),
        last=("day", "max"),
        n=("day", "size"),
        total=("value", "sum"),
        first_value=("value", "first"),  # rows are sorted by day within customer
    )
    x = per_customer["n"] - 1
    repeat_total = per_customer["total"] - per_customer["first_value"]
    return pd.DataFrame(
        {
            "customer_id": per_customer.index,
            "x": x.to_numpy(dtype=np.int64),
            "t_x": ((per_customer["last"] - per_customer["first"]).dt.days / unit).to_numpy(),
            "T": ((pd.Timestamp(end) - per_customer["first"]).dt.days / unit).to_numpy(),
            "monetary": (repeat_total / x.where(x > 0)).to_numpy(dtype=float),
        }
    ).reset_index(drop=True)


def summary_sql(occasions_relation: str, end_date: str | dt.date, unit_days: float) -> str:
    """DuckDB SQL computing the summary (COLUMNS) from `occasions_relation`.

    `occasions_relation` is inserted verbatim (a table name or a parenthesised subquery from
    trusted code); end_date and unit_days are validated. One GROUP BY after the per-day one:
    the repeat mean is (sum - value of the first day) / x, with arg_min picking that value.
    Rows come unordered.
    """
    end, unit = _checked(end_date, unit_days)
    return f"""
with occasions as (
    select
        customer_id,
        cast(occasion_date as date) as occasion_day,
        sum(occasion_value) as occasion_value
    from {occasions_relation}
    where cast(occasion_date as date) <= date '{end.isoformat()}'
    group by customer_id, occasion_day
)
select
    customer_id,
    count(*) - 1 as x,
    date_diff('day', min(occasion_day), max(occasion_day)) / {unit!r} as t_x,
    date_diff('day', min(occasion_day), date '{end.isoformat()}') / {unit!r} as "T",
    case when count(*) > 1 then
        cast(sum(occasion_value) - arg_min(occasion_value, occasion_day) as double) / (count(*) - 1)
    end as monetary
from occasions
group by customer_id
"""
