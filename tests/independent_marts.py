"""The retention and repurchase tables, computed again in plain pandas from the landing files.

An independent reference for the dbt marts: written from the definitions of docs/metrics.md and the
landing
contract of its #inputs (not from the dbt SQL), with other tools for each step — pandas Periods for
weeks and months, pandas ranks for RFM, Python loops where they read more plainly — so that a
mistake in one is unlikely to be repeated in the other. Small shops only (thousands of customers).

Decisions the definitions leave open follow the project's documented choices (docs in the dbt YAML):
an order re-sent with a later `updated_at` replaces the earlier version if that version was known
by the end of the as-of day; a `refunded` status without an amount is a full refund.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from functools import cache
from pathlib import Path

import pandas as pd

WINDOWS = (30, 60, 90, 180, 365)
COHORT_FREQ = {"week": "W-SUN", "month": "M"}  # a W-SUN period runs Monday..Sunday (ISO week)
PERIOD_FREQ = {"day": "D", **COHORT_FREQ}

# The RFM map as a table (a partition of the grid): r_score -> segment per fm_score band
# 1-1.5, 2-2.5, 3-3.5, 4-5.
SEGMENTS = {
    5: ("Recent Customers", "Potential Loyalist", "Loyal Customers", "Champions"),
    4: ("Promising", "Potential Loyalist", "Loyal Customers", "Champions"),
    3: ("About To Sleep", "Customers Needing Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk"),
    1: ("Lost", "Lost", "At Risk", "Can't Lose Them"),
}
TIERS = (("Platinum", 5000), ("Gold", 2000), ("Silver", 500), ("Bronze", 0))


# --- landing files -------------------------------------------------------------------------------

def read_entity(landing: Path, entity: str) -> pd.DataFrame:
    """All rows of one entity's CSV file or folder of CSV files, every value as text."""
    landing = Path(landing)
    single = landing / f"{entity}.csv"
    files = [single] if single.exists() else sorted((landing / entity).glob("*.csv"))
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame.replace({"": None})


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _as_of_end_utc(as_of: dt.date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(as_of + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC")


def orders(landing: Path, as_of: dt.date, tz: str, min_order_value: float = 0.0) -> pd.DataFrame:
    """One row per order placed by the end of the as-of day, the version known then, classified."""
    raw = read_entity(landing, "orders")
    for optional in ("status", "refunded_amount"):  # optional columns a shop may leave out
        if optional not in raw:
            raw[optional] = None
    raw["_line"] = range(len(raw))
    raw["ordered_at"] = _utc(raw["ordered_at"])
    updated = _utc(raw["updated_at"]) if "updated_at" in raw else pd.Series(pd.NaT, index=raw.index,
                                                                     dtype="datetime64[ns, UTC]")
    raw["known_at"] = updated.fillna(raw["ordered_at"])
    end = _as_of_end_utc(as_of, tz)

    # the latest version known by the end of the as-of day; only later versions: the earliest
    raw["late"] = raw["known_at"] >= end
    stamp = raw["known_at"].astype("int64")
    raw["_order"] = stamp.where(raw["late"], -stamp)
    raw["_tiebreak"] = raw["_line"].where(raw["late"], -raw["_line"])
    current = (raw.sort_values(["order_id", "late", "_order", "_tiebreak"])
               .drop_duplicates("order_id", keep="first"))
    current = current[current["ordered_at"] < end].copy()

    current["status"] = current["status"].fillna("completed").str.strip().str.lower()
    # amounts in exact ten-thousandths, so sums (and RFM ties on them) are exact, as in DECIMAL
    current["total"] = _ten_thousandths(current["total_amount"])
    refunded = _ten_thousandths(current["refunded_amount"])
    current["refunded"] = refunded
    current["net_amount"] = current["total"] - refunded.fillna(0)
    full_refund = refunded.where(refunded.notna(),
                                 current["total"].where(current["status"] == "refunded"))
    current["is_valid"] = (
        current["customer_id"].notna()
        & ~current["status"].isin(["cancelled", "test"])
        & ~((current["total"] > 0) & (full_refund >= current["total"]).fillna(False))
        & (current["net_amount"] >= round(min_order_value * 10_000))
    ).astype(bool)
    current["order_date"] = current["ordered_at"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    # delivery times (optional): one after the end of the as-of day has not happened yet
    delivery = [c for c in ("shipped_at", "delivered_at") if c in current]
    for column in delivery:
        current[column] = _utc(current[column]).where(lambda t: t < end)
    if "promised_delivery_date" in current:
        delivery.append("promised_delivery_date")
        current["promised_delivery_date"] = pd.to_datetime(current["promised_delivery_date"])
    return current[["order_id", "customer_id", "ordered_at", "order_date", "status", "total",
                    "refunded", "net_amount", "is_valid", *delivery]].reset_index(drop=True)


def _ten_thousandths(text: pd.Series) -> pd.Series:
    return text.map(lambda v: None if pd.isna(v) else int(Decimal(v) * 10_000)).astype("Int64")


def money(ten_thousandths) -> float:
    return float(ten_thousandths) / 10_000


def occasions(order_table: pd.DataFrame) -> pd.DataFrame:
    """docs/metrics.md#purchase-occasion: the valid orders of one customer on one local date are one
    purchase occasion."""
    valid = order_table[order_table["is_valid"]]
    occ = (valid.groupby(["customer_id", "order_date"], as_index=False)
           .agg(orders=("order_id", "size"), net_amount=("net_amount", "sum")))
    occ = occ.sort_values(["customer_id", "order_date"], ignore_index=True)
    occ["seq"] = occ.groupby("customer_id").cumcount() + 1
    occ["first_date"] = occ.groupby("customer_id")["order_date"].transform("min")
    return occ


# --- cohorts and periods -------------------------------------------------------------------------

def _ordinal(dates: pd.Series, granularity: str) -> pd.Series:
    """Period number of each date (consecutive periods have consecutive numbers)."""
    return pd.Series(dates.dt.to_period(PERIOD_FREQ[granularity]).array.asi8, index=dates.index)


@cache
def _period_of(ordinal: int, granularity: str) -> pd.Period:
    return pd.Period(ordinal=int(ordinal), freq=PERIOD_FREQ[granularity])


def _as_of_ordinal(as_of: dt.date, granularity: str) -> int:
    return pd.Period(as_of, PERIOD_FREQ[granularity]).ordinal


@cache
def _is_complete(ordinal: int, granularity: str, as_of: dt.date) -> bool:
    return _period_of(ordinal, granularity).end_time.date() <= as_of


def cohort_retention(occ: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    rows = []
    for granularity in ("week", "month"):
        frame = occ.assign(cohort=_ordinal(occ["first_date"], granularity),
                           period=_ordinal(occ["order_date"], granularity))
        frame["k"] = frame["period"] - frame["cohort"]
        # per customer and period: occasions, orders, net
        per_customer = frame.groupby(["cohort", "k", "customer_id"]).agg(
            n=("seq", "size"), orders=("orders", "sum"), net=("net_amount", "sum"))
        cells = {key: (len(g), int((g["n"] >= 2).sum()), int(g["orders"].sum()), g["net"].sum())
                 for key, g in per_customer.groupby(level=["cohort", "k"])}
        last_k = frame.groupby(["cohort", "customer_id"])["k"].max()
        as_of_ordinal = _as_of_ordinal(as_of, granularity)
        for cohort, lasts in last_k.groupby(level="cohort"):
            size = len(lasts)
            for k in range(as_of_ordinal - cohort + 1):
                active, multi, n_orders, net = cells.get((cohort, k), (0, 0, 0, 0))
                rows.append({
                    "cohort_granularity": granularity,
                    "cohort_start": _period_of(cohort, granularity).start_time.date(),
                    "period_index": k,
                    "cohort_size": size,
                    "active_customers": active,
                    "repeat_customers": multi if k == 0 else active,
                    "retention_rate": active / size,
                    "on_or_after_customers": int((lasts >= k).sum()),
                    "orders": n_orders,
                    "net_revenue": money(net),
                    "is_complete": _is_complete(cohort + k, granularity, as_of),
                })
    return pd.DataFrame(rows)


def _first_two(occ: pd.DataFrame) -> pd.DataFrame:
    """Per customer: first occasion date and days to the second (NaN for one-time buyers)."""
    first = occ[occ["seq"] == 1].set_index("customer_id")["order_date"]
    second = occ[occ["seq"] == 2].set_index("customer_id")["order_date"]
    out = pd.DataFrame({"first_date": first})
    out["days_to_second"] = (second.reindex(out.index) - out["first_date"]).dt.days
    return out


def repurchase_by_cohort(occ: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    customers = _first_two(occ)
    as_of_ts = pd.Timestamp(as_of)
    rows = []
    for granularity in ("week", "month"):
        cohorts = _ordinal(customers["first_date"], granularity)
        for cohort, members in customers.groupby(cohorts):
            for h in WINDOWS:
                matured = members[members["first_date"] + pd.Timedelta(days=h) <= as_of_ts]
                days = matured["days_to_second"]
                repurchased = days[days <= h]
                rows.append({
                    "cohort_granularity": granularity,
                    "cohort_start": _period_of(cohort, granularity).start_time.date(),
                    "window_days": h,
                    "cohort_size": len(members),
                    "matured_customers": len(matured),
                    "repurchased_customers": len(repurchased),
                    "repurchase_rate": len(repurchased) / len(matured) if len(matured) else None,
                    "median_days_to_second": float(repurchased.median()) if len(repurchased) else None,
                })
    return pd.DataFrame(rows)


def repurchase_by_period(occ: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    rows = []
    for granularity in ("day", "week", "month"):
        frame = occ.assign(period=_ordinal(occ["order_date"], granularity),
                           cohort=_ordinal(occ["first_date"], granularity))
        per_customer = frame.groupby(["period", "customer_id"]).agg(
            n=("seq", "size"), cohort=("cohort", "first"), net=("net_amount", "sum"))
        cells = {period: g for period, g in per_customer.groupby(level="period")}
        for period in range(int(frame["period"].min()), _as_of_ordinal(as_of, granularity) + 1):
            cell = cells.get(period)
            purchasers = 0 if cell is None else len(cell)
            repeat = 0 if cell is None else int((cell["n"] >= 2).sum())
            new = 0 if cell is None else int((cell["cohort"] == period).sum())
            rows.append({
                "period_granularity": granularity,
                "period_start": _period_of(period, granularity).start_time.date(),
                "purchasers": purchasers,
                "repeat_purchasers": repeat,
                "repeat_purchase_rate": repeat / purchasers if purchasers else None,
                "new_customers": new,
                "returning_customers": purchasers - new,
                "returning_customer_rate": (purchasers - new) / purchasers if purchasers else None,
                "net_revenue": 0.0 if cell is None else money(cell["net"].sum()),
                "is_complete": _is_complete(period, granularity, as_of),
            })
    return pd.DataFrame(rows)


# --- customers -----------------------------------------------------------------------------------

def _score(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """least(5, 1 + floor(5 * percent_rank())), percent_rank = (rank - 1) / (n - 1), ties = min rank."""
    ranks = values.rank(method="min", ascending=higher_is_better)
    n = len(values)
    percent_rank = (ranks - 1) / (n - 1) if n > 1 else ranks * 0.0
    return percent_rank.map(lambda p: min(5, 1 + math.floor(5 * p))).astype(int)


def _segment(r: int, fm: float) -> str | None:
    return SEGMENTS[int(r)][min(int(fm) - 1, 3)]


def _tier(spend: float) -> str:
    return next(name for name, threshold in TIERS if spend >= threshold)


def customer_rfm(occ: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """RFM scores, segment and member tier of every customer with an occasion
    (docs/metrics.md#rfm)."""
    as_of_ts = pd.Timestamp(as_of)
    per = occ.groupby("customer_id").agg(
        first_occasion_date=("order_date", "min"),
        last_occasion_date=("order_date", "max"),
        occasions=("seq", "size"),
        orders=("orders", "sum"),
        net_revenue=("net_amount", "sum"),
    )
    recent = occ[occ["order_date"] > as_of_ts - pd.Timedelta(days=365)]
    per["net_revenue_365d"] = recent.groupby("customer_id")["net_amount"].sum().reindex(per.index).fillna(0)
    per["recency_days"] = (as_of_ts - per["last_occasion_date"]).dt.days
    per["r_score"] = _score(per["recency_days"], higher_is_better=False)
    per["f_score"] = _score(per["occasions"], higher_is_better=True)
    per["m_score"] = _score(per["net_revenue"], higher_is_better=True)
    per["fm_score"] = (per["f_score"] + per["m_score"]) / 2
    per["rfm_segment"] = [_segment(r, fm) for r, fm in zip(per["r_score"], per["fm_score"])]
    per["member_tier"] = per["net_revenue_365d"].map(lambda v: _tier(money(v)))
    per["net_revenue"] = per["net_revenue"].map(money)
    per["net_revenue_365d"] = per["net_revenue_365d"].map(money)
    spans = (per["last_occasion_date"] - per["first_occasion_date"]).dt.days
    per["avg_days_between_occasions"] = (spans / (per["occasions"] - 1)).where(per["occasions"] >= 2)
    for column in ("first_occasion_date", "last_occasion_date"):
        per[column] = per[column].dt.date
    return per.reset_index()


def all_tables(landing: Path, as_of: dt.date, tz: str, min_order_value: float = 0.0) -> dict[str, pd.DataFrame]:
    occ = occasions(orders(landing, as_of, tz, min_order_value))
    return {
        "cohort_retention": cohort_retention(occ, as_of),
        "repurchase_by_cohort": repurchase_by_cohort(occ, as_of),
        "repurchase_by_period": repurchase_by_period(occ, as_of),
        "dim_customers": customer_rfm(occ, as_of),
    }


def assert_same_cells(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str],
                      columns: list[str], label: str) -> None:
    """Every row of one table has its row in the other (by key), and every listed cell agrees:
    exactly for counts, dates and flags, to 1e-9 for rates and money; null only where null."""
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("_mart", "_ref"), indicator=True)
    unmatched = merged[merged["_merge"] != "both"]
    assert unmatched.empty, f"{label}: rows only on one side:\n{unmatched[keys + ['_merge']].head(20)}"
    problems = []
    for column in columns:
        mart, ref = merged[f"{column}_mart"], merged[f"{column}_ref"]
        both_null = mart.isna() & ref.isna()
        if pd.api.types.is_numeric_dtype(mart) and not pd.api.types.is_bool_dtype(mart):
            close = (pd.to_numeric(mart, errors="coerce") - pd.to_numeric(ref, errors="coerce")).abs() <= 1e-9
        else:
            close = mart.astype(object) == ref.astype(object)
        bad = merged[~(both_null | close.fillna(False).astype(bool))]
        if not bad.empty:
            problems.append(f"{column}: {len(bad)} cells differ, e.g.\n"
                            f"{bad[keys + [f'{column}_mart', f'{column}_ref']].head(5).to_string()}")
    assert not problems, f"{label}:\n" + "\n".join(problems)
