"""delivery_experience, price tiers, price_tier_migration and the gender / age_band drivers,
computed again in plain pandas from the landing files (the companion of independent_marts.py,
written from the definitions in docs/metrics.md and the dbt YAML, not from the SQL)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd

from tests.independent_marts import WINDOWS, _first_two, _utc, occasions, orders, read_entity

BUCKETS = ("on time", "1–2 days late", "> 2 days late", "not delivered", "unknown")


def _bucket(row, as_of: pd.Timestamp) -> str:
    promised = row["promised_delivery_date"]
    if pd.isna(row["delivered_at"]) and pd.notna(promised) and promised < as_of:
        return "not delivered"
    if pd.isna(row["days_late"]):
        return "unknown"
    if row["days_late"] <= 0:
        return "on time"
    return "1–2 days late" if row["days_late"] <= 2 else "> 2 days late"


def delivery_experience(landing: Path, as_of: dt.date, tz: str) -> pd.DataFrame:
    table = orders(landing, as_of, tz)
    valid = table[table["is_valid"]].sort_values(["customer_id", "ordered_at", "order_id"])
    first = valid.drop_duplicates("customer_id").set_index("customer_id")
    delivered_day = first["delivered_at"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    first = first.assign(
        delivery_days=(delivered_day - first["order_date"]).dt.days,
        days_late=(delivered_day - first["promised_delivery_date"]).dt.days,
    )
    as_of_ts = pd.Timestamp(as_of)
    first["bucket"] = [_bucket(row, as_of_ts) for _, row in first.iterrows()]
    customers = _first_two(occasions(table)).join(first[["bucket", "delivery_days"]])
    rows = []
    for bucket in BUCKETS:
        members = customers[customers["bucket"] == bucket]
        days = members["delivery_days"].dropna()
        for h in WINDOWS:
            matured = members[members["first_date"] + pd.Timedelta(days=h) <= as_of_ts]
            again = matured[matured["days_to_second"] <= h]
            rows.append({
                "delivery_bucket": bucket, "window_days": h, "customers": len(members),
                "matured_customers": len(matured), "repurchased_customers": len(again),
                "repurchase_rate": len(again) / len(matured) if len(matured) else None,
                "median_delivery_days": float(days.median()) if len(days) else None,
            })
    return pd.DataFrame(rows)


def _latest_version(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    if "updated_at" not in frame:
        return frame.drop_duplicates(key, keep="last")
    frame = frame.assign(_stamp=_utc(frame["updated_at"]))
    return frame.sort_values([key, "_stamp"]).drop_duplicates(key, keep="last")


def product_tiers(landing: Path) -> pd.Series:
    """price tier by product_id: min(4, 1 + floor(4 * percent_rank)) of the price in its category."""
    products = _latest_version(read_entity(landing, "products"), "product_id")
    products = products[products["price"].notna()].copy()
    products["price"] = products["price"].astype(float)
    category = products["category"].fillna("").str.strip().str.lower().replace("", "uncategorized")
    ranks = products.groupby(category)["price"].rank(method="min")
    sizes = products.groupby(category)["price"].transform("size")
    percent = ((ranks - 1) / (sizes - 1)).where(sizes > 1, 0.0)
    tiers = percent.map(lambda p: min(4, 1 + math.floor(4 * p))).astype(int)
    return pd.Series(tiers.to_numpy(), index=products["product_id"].to_numpy(), name="price_tier")


def price_tier_migration(landing: Path, as_of: dt.date, tz: str) -> pd.DataFrame:
    table = orders(landing, as_of, tz)
    occ = occasions(table)
    items = read_entity(landing, "order_items")
    tiers = product_tiers(landing)
    lines = items.merge(table[table["is_valid"]][["order_id", "customer_id", "order_date"]],
                        on="order_id")
    lines["price_tier"] = lines["product_id"].map(tiers)
    occasion_tier = lines.dropna(subset=["price_tier"]).groupby(
        ["customer_id", "order_date"])["price_tier"].max()
    occ = occ.join(occasion_tier, on=["customer_id", "order_date"])
    as_of_ts = pd.Timestamp(as_of)
    cells: dict[tuple[int, int], list[int]] = {(f, t): [0, 0] for f in range(1, 5) for t in range(1, 5)}
    for _, history in occ.groupby("customer_id"):
        history = history.set_index("seq")
        start = history.loc[1, "price_tier"]
        later = history[(history.index >= 2) & history["price_tier"].notna()
                        & (history["order_date"] + pd.Timedelta(days=90) <= as_of_ts)]
        if pd.isna(start) or later.empty:
            continue
        seq = later.index.max()
        end = later.loc[seq]
        again = seq + 1 in history.index and (
            history.loc[seq + 1, "order_date"] - end["order_date"]).days <= 90
        cell = cells[(int(start), int(end["price_tier"]))]
        cell[0] += 1
        cell[1] += int(again)
    rows = []
    for (f, t), (n, again) in cells.items():
        starting = sum(cells[(f, x)][0] for x in range(1, 5))
        rows.append({"from_price_tier": f, "to_price_tier": t, "customers": n,
                     "direction": "up" if t > f else "down" if t < f else "same",
                     "share": n / starting if starting else None,
                     "repurchased_customers_90d": again,
                     "repurchase_rate_90d": again / n if n else None})
    return pd.DataFrame(rows)


def _age_band(age) -> str:
    if pd.isna(age):
        return "unknown"
    for limit, band in ((25, "< 25"), (35, "25–34"), (45, "35–44"), (55, "45–54")):
        if age < limit:
            return band
    return "55+"


def profile_drivers(landing: Path, as_of: dt.date, tz: str) -> pd.DataFrame:
    """repurchase_drivers rows of the dimensions gender and age_band."""
    customers = _latest_version(read_entity(landing, "customers"), "customer_id")
    customers = customers.set_index("customer_id")
    buyers = _first_two(occasions(orders(landing, as_of, tz)))
    gender = customers["gender"].reindex(buyers.index).str.lower().str.strip()
    buyers["gender"] = gender.where(gender.notna() & (gender != ""), "unknown")
    birthday = pd.to_datetime(customers["birthday"], errors="coerce").reindex(buyers.index)
    first = buyers["first_date"]
    before_birthday = (first.dt.month * 100 + first.dt.day) < (birthday.dt.month * 100 + birthday.dt.day)
    age = first.dt.year - birthday.dt.year - before_birthday.astype(int)
    buyers["age_band"] = [_age_band(a) for a in age.where(birthday.notna())]
    as_of_ts = pd.Timestamp(as_of)
    rows = []
    for dimension in ("gender", "age_band"):
        for value, members in buyers.groupby(dimension):
            for h in WINDOWS:
                matured = members[members["first_date"] + pd.Timedelta(days=h) <= as_of_ts]
                again = matured[matured["days_to_second"] <= h]
                rows.append({"dimension": dimension, "dimension_value": value, "window_days": h,
                             "customers": len(members), "matured_customers": len(matured),
                             "repurchased_customers": len(again),
                             "repurchase_rate": len(again) / len(matured) if len(matured) else None})
    return pd.DataFrame(rows)
