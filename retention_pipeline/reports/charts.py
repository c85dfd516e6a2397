"""The charts of the retention marts as PNG bytes (matplotlib, Agg backend: no display needed).

matplotlib is imported inside the functions: importing the code location must stay cheap.
"""

from __future__ import annotations

import base64
import io

import duckdb

MAX_COHORTS = 24  # the latest monthly cohorts shown; older ones make the heatmap unreadable
MAX_CURVES = 12


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that embeds a PNG (Dagster renders md metadata, data URIs included)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def cohort_heatmap_png(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """Retention rate by monthly cohort (rows) and months since acquisition (columns)."""
    cells = con.execute(f"""
        with latest as (
            select distinct cohort_start from marts.cohort_retention
            where cohort_granularity = 'month' order by cohort_start desc limit {MAX_COHORTS}
        )
        select c.cohort_start, c.period_index, c.retention_rate, c.cohort_size
        from marts.cohort_retention as c
        inner join latest using (cohort_start)
        where c.cohort_granularity = 'month' and c.period_index <= {MAX_COHORTS}
        order by c.cohort_start, c.period_index
    """).df()
    if cells.empty:
        return None
    grid = cells.pivot(index="cohort_start", columns="period_index", values="retention_rate")
    sizes = cells.groupby("cohort_start")["cohort_size"].first()
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 0.32 * len(grid) + 1.6))
    # period 0 is 100 % by definition: start the colour scale at the best later month
    later = grid.drop(columns=[0], errors="ignore")
    top = float(later.max().max()) if later.notna().any().any() else 1.0
    image = axes.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="YlGnBu",
                        vmin=0, vmax=max(top, 0.01))
    axes.set_xticks(range(len(grid.columns)), [str(k) for k in grid.columns])
    axes.set_yticks(range(len(grid.index)),
                    [f"{start:%Y-%m} (n={sizes[start]:,})" for start in grid.index])
    axes.set_xlabel("months since first purchase")
    axes.set_title("Monthly cohort retention (share of the cohort with a purchase)")
    figure.colorbar(image, ax=axes, format=lambda value, _: f"{value:.0%}")
    return _png(figure)


def repurchase_curves_png(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """Repurchase rate within 30 … 365 days: the latest monthly cohorts and all cohorts together.

    A cohort's point is drawn once all of the cohort has matured for the window: a partly matured
    cohort holds only its earliest customers, a small and misleading sample."""
    rates = con.execute("""
        select
            cohort_start, window_days, repurchased_customers, matured_customers,
            case when matured_customers = cohort_size then repurchase_rate end as repurchase_rate
        from marts.repurchase_by_cohort
        where cohort_granularity = 'month'
        order by cohort_start, window_days
    """).df()
    if rates.empty or rates["repurchase_rate"].isna().all():
        return None
    overall = rates.groupby("window_days")[["repurchased_customers", "matured_customers"]].sum()
    overall = overall[overall["matured_customers"] > 0]
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    shown = sorted(rates.dropna(subset=["repurchase_rate"])["cohort_start"].unique())[-MAX_CURVES:]
    for start in shown:
        curve = rates[(rates["cohort_start"] == start) & rates["repurchase_rate"].notna()]
        axes.plot(curve["window_days"], curve["repurchase_rate"], marker="o", linewidth=1,
                  alpha=0.6, label=f"{start:%Y-%m}")
    axes.plot(overall.index, overall["repurchased_customers"] / overall["matured_customers"],
              color="black", linewidth=3, marker="o", label="all cohorts")
    axes.set_xlabel("days after the first purchase")
    axes.set_ylabel("share of matured customers who bought again")
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    axes.set_title("Repurchase curves by monthly cohort")
    axes.legend(fontsize="small", ncol=2)
    axes.grid(alpha=0.3)
    return _png(figure)


def delivery_repurchase_png(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """Repurchase rate within each window by the delivery bucket of the first order."""
    rates = con.execute("""
        select delivery_bucket, bucket_order, window_days, matured_customers, repurchase_rate
        from marts.delivery_experience
        where matured_customers > 0
        order by bucket_order, window_days
    """).df()
    if rates.empty:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    windows = sorted(rates["window_days"].unique())
    buckets = rates.drop_duplicates("bucket_order")["delivery_bucket"].tolist()
    width = 0.8 / max(len(windows), 1)
    for i, window in enumerate(windows):
        part = rates[rates["window_days"] == window].set_index("delivery_bucket")
        heights = [part["repurchase_rate"].get(b, float("nan")) for b in buckets]
        axes.bar([x + i * width for x in range(len(buckets))], heights, width,
                 label=f"within {window} days")
    axes.set_xticks([x + width * (len(windows) - 1) / 2 for x in range(len(buckets))], buckets)
    axes.set_xlabel("delivery of the first order against the promised day")
    axes.set_ylabel("share of matured customers who bought again")
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    axes.set_title("Repurchase by first delivery")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3, axis="y")
    return _png(figure)
