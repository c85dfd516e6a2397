"""`unknown_order_statuses`: a warning check on marts/fct_orders naming the order statuses that
are neither the contract's nor mapped by the seed order_status_map, with their order counts.

Such orders are not valid purchases (invalid_reason `unknown_status`); the check tells the shop
which rows to add to dbt_project/seeds/order_status_map.csv so that they count. Non-blocking: the
day's numbers are right for what is known, and a new platform status must not stop the exports.
"""

import warnings

import dagster as dg

from retention_pipeline.partitions import WRITER_POOL
from retention_pipeline.settings import Settings

CHECK_NAME = "unknown_order_statuses"
ORDERS_MART = dg.AssetKey(["marts", "fct_orders"])
SEED_PATH = "dbt_project/seeds/order_status_map.csv"


def unknown_statuses(con) -> dict[str, int]:
    """Status as sent -> orders, for the orders fct_orders marks `unknown_status`."""
    rows = con.execute(
        """select shop_status, count(*) from marts.fct_orders
           where invalid_reason = 'unknown_status' group by 1 order by 2 desc, 1"""
    ).fetchall()
    return {status: int(count) for status, count in rows}


def describe(statuses: dict[str, int]) -> str | None:
    if not statuses:
        return None
    named = ", ".join(f"{status!r} ({count} orders)" for status, count in statuses.items())
    return (
        f"{len(statuses)} order status(es) neither of the contract nor in {SEED_PATH}: {named}. "
        "These orders are not counted as purchases (invalid_reason unknown_status); add a row "
        "per status to the seed to map it to placed, paid, shipped, completed, cancelled, "
        "refunded, partially_refunded or test."
    )


def build_status_check(
    settings: Settings, partitions: dg.PartitionsDefinition | None = None
) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        spec = dg.AssetCheckSpec(
            CHECK_NAME, asset=ORDERS_MART, blocking=False, partitions_def=partitions,
            description="Order statuses that are neither the contract's nor mapped in the seed "
            "order_status_map, with their order counts (those orders are not purchases).",
        )

    @dg.multi_asset_check(specs=[spec], name=CHECK_NAME, pool=WRITER_POOL)
    def _check(context: dg.AssetCheckExecutionContext):
        from retention_pipeline.quality.frames import table_exists
        from retention_pipeline.warehouse import connect

        with connect(settings.warehouse, read_only=True, settings=settings) as con:
            statuses = unknown_statuses(con) if table_exists(con, "marts.fct_orders") else {}
        yield dg.AssetCheckResult(
            asset_key=ORDERS_MART,
            check_name=CHECK_NAME,
            passed=not statuses,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "unknown_statuses": dg.MetadataValue.json(statuses),
                "orders": dg.MetadataValue.int(sum(statuses.values())),
            },
            description=describe(statuses),
        )

    return _check
