"""The daily partitions every asset shares: a partition key is a run's as-of date."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from retention_pipeline.settings import Settings


def daily_partitions(settings: Settings, earliest: dt.date | None = None) -> dg.DailyPartitionsDefinition:
    """Daily partitions in the reporting time zone, up to and including today.

    end_offset=1 makes today's (still running) day a partition: the morning run is *for* today
    (first orders of yesterday get today's thank-you): the as-of date of
    docs/metrics.md#as-of-date.
    """
    start = settings.partitions_start
    if earliest is not None and earliest < start:
        start = earliest
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        timezone=settings.reporting_tz,
        end_offset=1,
    )


# Every asset writes the one DuckDB file: they share one pool (limit 1 in dagster.yaml), and a
# backfill is one run per day because each day is its own as-of snapshot.
WRITER_POOL = "duckdb_writer"


def daily_asset_options(partitions: dg.PartitionsDefinition) -> dict:
    """The partitioning, pool and backfill policy every asset of the pipeline shares."""
    return {
        "partitions_def": partitions,
        "pool": WRITER_POOL,
        "backfill_policy": dg.BackfillPolicy.multi_run(1),
    }


def as_of_from_partition(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)
