"""Dagster UI reports for the marts: row counts, headline numbers and charts as asset metadata.

    with connect(warehouse, read_only=True) as con:
        metadata = mart_metadata(con, "cohort_retention")   # dict[str, dagster.MetadataValue]

Pure functions of a read-only DuckDB connection to a built warehouse: headlines.py (the numbers,
in SQL), charts.py (matplotlib PNGs), metadata.py (what each mart shows).
"""

from retention_pipeline.reports.headlines import (
    latest_complete_month_repeat_rate,
    repurchase_rate_90d,
)
from retention_pipeline.reports.metadata import REPORTED_MARTS, mart_metadata, reported_tables

__all__ = [
    "REPORTED_MARTS",
    "latest_complete_month_repeat_rate",
    "mart_metadata",
    "reported_tables",
    "repurchase_rate_90d",
]
