"""Tables that keep earlier days: the customer snapshot of every run's as-of date and the month
over month movement between RFM segments built from its month-end snapshots.

    with connect(warehouse, settings=settings) as con:
        write_customer_snapshot(con, as_of)   # marts.dim_customers_history, that day replaced
        build_segment_migration(con)          # marts.segment_migration, rebuilt

Written by Python assets rather than dbt: the snapshot carries P(alive), which the prediction
assets write after dbt's build of the day, so a dbt model could only ever snapshot the previous
run's predictions.
"""

from retention_pipeline.history.migration import build_segment_migration, latest_movement
from retention_pipeline.history.snapshots import write_customer_snapshot

__all__ = ["build_segment_migration", "latest_movement", "write_customer_snapshot"]
