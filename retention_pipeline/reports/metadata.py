"""What each mart shows in the Dagster UI: row count, headline numbers, charts."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import duckdb

from retention_pipeline.reports import charts, headlines
from retention_pipeline.warehouse import table_exists

REPORTED_MARTS = (
    "fct_orders",
    "dim_customers",
    "cohort_retention",
    "repurchase_by_cohort",
    "repurchase_by_period",
    "repurchase_drivers",
    "category_transitions",
    "product_quality",
    "aftersales_retention",
    "delivery_experience",
    "price_tier_migration",
)
RETENTION_MARTS = ("cohort_retention", "repurchase_by_cohort", "repurchase_by_period")


def mart_metadata(con: duckdb.DuckDBPyConnection, model_name: str) -> dict[str, dg.MetadataValue]:
    """Dagster metadata for one mart of a built warehouse (read-only connection). Empty for a
    table that does not exist (e.g. dbt failed before building it)."""
    if not table_exists(con, "marts", model_name):
        return {}
    metadata: dict[str, dg.MetadataValue] = {
        "row_count": dg.MetadataValue.int(headlines.row_count(con, model_name)),
    }
    if model_name in RETENTION_MARTS:
        metadata |= _headlines(con)
    extra = _EXTRAS.get(model_name)
    if extra is not None:
        metadata |= extra(con)
    return metadata


def reported_tables(models) -> list[str]:
    """The marts `mart_metadata` queries for `models` beyond counting their rows (what a step
    off the duckdb target copies locally; a mart shown by its row count alone is not copied)."""
    wanted: set[str] = set()
    for model in models:
        if model in _EXTRAS:
            wanted.add(model)
        if model in RETENTION_MARTS:
            wanted.update(RETENTION_MARTS)
    return sorted(wanted)


def _rate(value: float | None) -> dg.MetadataValue:
    return dg.MetadataValue.null() if value is None else dg.MetadataValue.float(float(value))


def _headlines(con: duckdb.DuckDBPyConnection) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {}
    month = headlines.latest_complete_month_repeat_rate(con)
    metadata["repeat_purchase_rate_latest_complete_month"] = _rate(month and month.rate)
    if month is not None:
        metadata["latest_complete_month"] = dg.MetadataValue.text(f"{month.period_start:%Y-%m}")
    within_90 = headlines.repurchase_rate_90d(con)
    metadata["repurchase_rate_90d"] = _rate(within_90 and within_90.rate)
    if within_90 is not None:
        metadata["matured_customers_90d"] = dg.MetadataValue.int(within_90.denominator)
    return metadata


def _image(png: bytes | None, alt: str) -> dg.MetadataValue:
    if png is None:
        return dg.MetadataValue.md(f"*{alt}: no data yet*")
    return dg.MetadataValue.md(charts.markdown_image(png, alt))


def _cohort_retention(con) -> dict[str, dg.MetadataValue]:
    cohorts = con.execute("""
        select count(*) from marts.cohort_retention
        where cohort_granularity = 'month' and period_index = 0
    """).fetchone()[0]
    return {
        "monthly_cohorts": dg.MetadataValue.int(cohorts),
        "retention_heatmap": _image(charts.cohort_heatmap_png(con), "cohort retention heatmap"),
    }


def _repurchase_by_cohort(con) -> dict[str, dg.MetadataValue]:
    return {"repurchase_curves": _image(charts.repurchase_curves_png(con), "repurchase curves")}


def _dim_customers(con) -> dict[str, dg.MetadataValue]:
    counts = con.execute("""
        select count(*), count(*) filter (where occasions > 0), count(*) filter (where occasions > 1)
        from marts.dim_customers
    """).fetchone()
    segments = con.execute("""
        select rfm_segment, count(*) from marts.dim_customers
        where rfm_segment is not null group by all order by 2 desc
    """).fetchall()
    tiers = con.execute("""
        select member_tier, count(*) from marts.dim_customers group by all order by 2 desc
    """).fetchall()
    return {
        "customers": dg.MetadataValue.int(counts[0]),
        "customers_with_purchase": dg.MetadataValue.int(counts[1]),
        "repeat_customers": dg.MetadataValue.int(counts[2]),
        "rfm_segments": dg.MetadataValue.json(dict(segments)),
        "member_tiers": dg.MetadataValue.json(dict(tiers)),
    }


def _aftersales_retention(con) -> dict[str, dg.MetadataValue]:
    rows = con.execute("""
        select first_response_bucket, customers, matured_customers_90d, repurchase_rate_90d
        from marts.aftersales_retention order by bucket_order
    """).fetchall()
    table = ["| first response | customers | matured 90 d | repurchase 90 d |", "|---|---:|---:|---:|"]
    table += [f"| {bucket} | {n:,} | {matured:,} | {'–' if rate is None else f'{rate:.1%}'} |"
              for bucket, n, matured, rate in rows]
    return {"repurchase_by_first_response": dg.MetadataValue.md("\n".join(table))}


def _delivery_experience(con) -> dict[str, dg.MetadataValue]:
    png = charts.delivery_repurchase_png(con)
    return {"repurchase_by_delivery": _image(png, "repurchase by first delivery")}


def _price_tier_migration(con) -> dict[str, dg.MetadataValue]:
    rows = con.execute("""
        select direction, sum(customers), sum(repurchased_customers_90d)
        from marts.price_tier_migration group by direction order by direction desc
    """).fetchall()
    table = ["| direction | customers | repurchase 90 d after |", "|---|---:|---:|"]
    table += [f"| {direction} | {int(n):,} | {'–' if not n else f'{again / n:.1%}'} |"
              for direction, n, again in rows]
    return {"trading_up_and_down": dg.MetadataValue.md("\n".join(table))}


MAX_MOVES = 30  # the largest moves of the month; the mart holds them all


def segment_movement_markdown(moves: list[tuple]) -> str:
    """The latest month's moves between RFM segments (from latest_movement) as a table."""
    if not moves:
        return "*no month with snapshots at its end and at the previous month end yet*"
    total = sum(n for *_, n in moves)
    lines = [f"Moves of {moves[0][0]:%Y-%m} ({total:,} customers)", "",
             "| from segment | to segment | customers | share |", "|---|---|---:|---:|"]
    lines += [f"| {origin} | {target}{'' if origin != target else ' (stayed)'} | {n:,} | "
              f"{n / total:.1%} |" for _, origin, target, n in moves[:MAX_MOVES]]
    return "\n".join(lines)


_EXTRAS: dict[str, Callable[[duckdb.DuckDBPyConnection], dict[str, dg.MetadataValue]]] = {
    "cohort_retention": _cohort_retention,
    "repurchase_by_cohort": _repurchase_by_cohort,
    "dim_customers": _dim_customers,
    "aftersales_retention": _aftersales_retention,
    "delivery_experience": _delivery_experience,
    "price_tier_migration": _price_tier_migration,
}
