"""Raw layer: one asset per landing entity, loading the day's new files into `raw.<entity>`.

Each asset carries a blocking check on the share of quarantined rows in the day's batch: a few bad
rows are quarantined and the day goes on; a broken feed stops the run before anything downstream.
"""


from pathlib import Path

import dagster as dg

from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.settings import Settings
from retention_pipeline.warehouse import connect

ENTITIES = ("customers", "products", "orders", "order_items", "events")
# Orders are checked against known customers, items against known orders: load those first.
LOADED_AFTER = {"orders": ("customers",), "order_items": ("orders",), "events": ("customers",)}
REQUIRED_ENTITIES = ("customers", "orders")
QUARANTINE_CHECK = "quarantine_share_within_threshold"


def raw_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


def build_raw_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list:
    return [_raw_asset(entity, settings, partitions) for entity in ENTITIES]


def _raw_asset(entity: str, settings: Settings, partitions: dg.PartitionsDefinition):
    key = raw_key(entity)
    required = "required" if entity in REQUIRED_ENTITIES else "optional"

    @dg.asset(
        key=key,
        group_name="raw",
        deps=[raw_key(upstream) for upstream in LOADED_AFTER.get(entity, ())],
        **daily_asset_options(partitions),
        kinds={"duckdb"},
        description=f"`raw.{entity}` ({required}): every version of every row from "
        + (f"the shop database's {entity} table (new and changed rows)" if settings.source_url
           else f"the landing folder's {entity} files")
        + "; bad rows go to `raw.quarantine` with a reason.",
        check_specs=[
            dg.AssetCheckSpec(
                QUARANTINE_CHECK,
                asset=key,
                blocking=True,
                description="Quarantined share of the day's rows is at most the "
                "`quarantine_threshold` setting; above it the run stops before any export.",
            )
        ],
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        # Imported here so that loading the code location stays cheap.
        from retention_pipeline import sample_guard
        from retention_pipeline.ingestion import discover_landing, ingest_entity

        batch_date = as_of_from_partition(context.partition_key)
        if settings.source_url is not None:
            stats = _ingest_from_database(settings, entity, batch_date, context.log.info)
        else:
            landing_dir = _landing_dir(settings)
            landing = discover_landing(landing_dir)
            with connect(settings.warehouse, settings=settings) as con:
                if not sample_guard.landing_is_sample(landing_dir):
                    # Real data from here on: this warehouse must never be replaced as the
                    # sample's.
                    sample_guard.release(con, settings.exports)
                # A line per slice of a large file: a first load of 100 M events takes minutes.
                stats = ingest_entity(con, landing, entity, batch_date, progress=context.log.info)
        share = stats.share_bad
        passed = share <= settings.quarantine_threshold
        return dg.MaterializeResult(
            metadata=stats.to_metadata(),
            check_results=[
                dg.AssetCheckResult(
                    check_name=QUARANTINE_CHECK,
                    passed=passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "quarantined_share": dg.MetadataValue.float(float(share)),
                        "threshold": dg.MetadataValue.float(settings.quarantine_threshold),
                        "rows_read": dg.MetadataValue.int(int(stats.rows_read)),
                        "rows_quarantined": dg.MetadataValue.int(int(stats.rows_quarantined)),
                        # bad optional values nulled, rows kept: not counted as bad rows
                        "fields_nulled": dg.MetadataValue.int(int(stats.fields_nulled)),
                    },
                    description=None
                    if passed
                    else f"{stats.rows_quarantined} of {stats.rows_read} {entity} rows "
                    f"quarantined ({share:.1%} > {settings.quarantine_threshold:.1%}): "
                    "broken feed, run stopped before any export. See raw.quarantine.",
                )
            ],
        )

    return _asset


def _ingest_from_database(settings: Settings, entity: str, batch_date, progress):
    """The entity's new rows from the shop database (setting source_url); an optional table the
    database lacks is an empty batch, like a missing optional file."""
    import datetime as dt

    from retention_pipeline import sample_guard
    from retention_pipeline.ingestion import batch_stats, ensure_raw_tables
    from retention_pipeline.ingestion.database import ShopDatabase, ingest_from_database

    shop = ShopDatabase.from_settings(settings)
    try:
        with connect(settings.warehouse, settings=settings) as con:
            sample_guard.release(con, settings.exports)  # a shop's own data, never the sample
            stats = ingest_from_database(
                con, shop, entity, batch_date,
                staging=Path(settings.warehouse).parent / "source_staging",
                lag=dt.timedelta(hours=settings.source_lag_hours), progress=progress,
            )
            if stats is None:
                ensure_raw_tables(con)
                stats = batch_stats(con, entity, batch_date)
            return stats
    finally:
        shop.close()


def _landing_dir(settings: Settings) -> Path:
    landing = settings.effective_landing
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing folder {landing} does not exist: set RETENTION_LANDING (or --landing), "
            "or generate the sample shop with `retention generate --out data/landing`."
        )
    return landing
