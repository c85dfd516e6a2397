"""The history marts as Dagster assets, after the dbt marts and the day's predictions.

    marts/dim_customers_history   the customer snapshot of the as-of date (segment, tier,
                                  recency, occasions, P(alive)); earlier days kept
    marts/segment_migration       customers moving between RFM segments month over month, from
                                  the month-end snapshots; a segment-movement table in the metadata

Python rather than dbt: P(alive) comes from marts.customer_predictions, written after dbt's build
(retention_pipeline/history explains). The logic lives in retention_pipeline/history.
"""

import dagster as dg

from retention_pipeline.assets.predictions import PREDICTIONS_KEY
from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.settings import Settings

GROUP = "history"
HISTORY_KEY = dg.AssetKey(["marts", "dim_customers_history"])
MIGRATION_KEY = dg.AssetKey(["marts", "segment_migration"])
DIM_CUSTOMERS_KEY = dg.AssetKey(["marts", "dim_customers"])


def build_history_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list:
    return [_history_asset(settings, partitions), _migration_asset(settings, partitions)]


def _common(partitions: dg.PartitionsDefinition) -> dict:
    return {"group_name": GROUP, "kinds": {"duckdb", "python"}, **daily_asset_options(partitions)}


def _history_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=HISTORY_KEY,
        deps=[DIM_CUSTOMERS_KEY, PREDICTIONS_KEY],
        description="`marts.dim_customers_history`: per customer with an occasion and as-of date, "
        "the RFM segment, member tier, recency, occasions, 365-day net revenue and P(alive) of "
        "that day. A run replaces its own day's rows; every other day is kept.",
        **_common(partitions),
    )
    def dim_customers_history(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.history import write_customer_snapshot
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, settings=settings) as con:
            rows = write_customer_snapshot(con, as_of)
            days = con.execute(
                "select count(distinct as_of_date) from marts.dim_customers_history"
            ).fetchone()[0]
        return dg.MaterializeResult(
            metadata={
                "snapshot_rows": dg.MetadataValue.int(rows),
                "days_kept": dg.MetadataValue.int(int(days)),
            }
        )

    return dim_customers_history


def _migration_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=MIGRATION_KEY,
        deps=[HISTORY_KEY],
        description="`marts.segment_migration`: per month, customers from their RFM segment at "
        "the previous month end ('new' without one) to their segment at this month end, from the "
        "month-end snapshots of dim_customers_history; the latest month's movement table is in "
        "the metadata.",
        **_common(partitions),
    )
    def segment_migration(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.history import build_segment_migration, latest_movement
        from retention_pipeline.reports.metadata import segment_movement_markdown
        from retention_pipeline.warehouse import connect

        with connect(settings.warehouse, settings=settings) as con:
            rows = build_segment_migration(con)
            moves = latest_movement(con)
        metadata = {"dagster/row_count": dg.MetadataValue.int(rows)}
        if moves:
            metadata["latest_month"] = dg.MetadataValue.text(f"{moves[0][0]:%Y-%m}")
        metadata["segment_movement"] = dg.MetadataValue.md(segment_movement_markdown(moves))
        return dg.MaterializeResult(metadata=metadata)

    return segment_migration
