"""Daily volume caps: temp table `activation_values`, the order in which capped candidates wait.

A campaign's optional `daily_volume_cap` (seed) limits how many of its candidates may be sent or
held out on one day, so that the first day on a shop with years of history does not reach every
lapsed customer at once. Among the campaign's candidates that passed consent, cooldowns and
frequency caps, the most valuable keep their place: predicted CLV (marts.customer_predictions,
`predicted_clv_365d`) highest first, customers without a prediction last, then customer_id. The
others are suppressed with reason `daily_volume`; a lasting trigger (win-back) proposes them again
on a later day. The cap is applied before the one-marketing-message-a-day slot, so a customer
capped out of one campaign may still get another that day (and a campaign sends fewer than its cap
when a higher-priority campaign takes some of its customers). Holdouts count towards the cap: the
control group is drawn among the same valuable customers as the treated ones.
"""

from __future__ import annotations

import duckdb

from retention_pipeline.activation import inputs
from retention_pipeline.activation.sqlutil import relation_columns

CLV_COLUMN = "predicted_clv_365d"


def build_values(con: duckdb.DuckDBPyConnection) -> None:
    columns = relation_columns(con, inputs.PREDICTIONS) or set()
    if {"customer_id", CLV_COLUMN} <= columns:
        source = f"""
            select customer_id, max({CLV_COLUMN}) as predicted_clv
            from {inputs.PREDICTIONS}
            where customer_id is not null
            group by customer_id
        """
    else:  # no predictions yet: every candidate waits by customer_id alone
        source = "select null::varchar as customer_id, null::double as predicted_clv where false"
    con.execute(f"create or replace temp table activation_values as {source}")
