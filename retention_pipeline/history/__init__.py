"""Tables that keep earlier days: marts.dim_customers_history (the customer snapshot of every
run's as-of date) and marts.segment_migration (month over month movement between RFM segments)
are dbt models of the second phase (dbt_project/models/history), built after the day's
predictions so that the snapshot carries that day's P(alive). This package reads the movement back
for the asset metadata."""

from retention_pipeline.history.movement import days_kept, latest_movement

__all__ = ["days_kept", "latest_movement"]
