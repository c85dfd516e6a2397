"""The prediction tables: names and columns, in one place.

The Python fits read their inputs (dbt models of models/predictions, schema intermediate) from
the dbt target and write model_fit, model_backtest and prediction_scores back to it
(retention_pipeline/targets/write.py), creating a table from these definitions when they have
nothing to write, so the dbt models of the second phase and every other consumer always find it.
customer_predictions and replenishment_cycles are dbt models; their columns are listed here for
the consumers and tests.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

SCHEMA = "marts"

# the dbt models the fits read (schema, table): docs/predictions.md
INPUT_SCHEMA = "intermediate"
PATTERNS = "int_prediction_patterns"
SPEND = "int_prediction_spend"
HOLDOUT_DAYS = "int_prediction_holdout_days"

CUSTOMER_PREDICTIONS = f"{SCHEMA}.customer_predictions"
PREDICTION_SCORES = f"{SCHEMA}.prediction_scores"
MODEL_FIT = f"{SCHEMA}.model_fit"
MODEL_BACKTEST = f"{SCHEMA}.model_backtest"
REPLENISHMENT_CYCLES = f"{SCHEMA}.replenishment_cycles"

COLUMNS: dict[str, dict[str, str]] = {
    CUSTOMER_PREDICTIONS: {
        "customer_id": "VARCHAR",
        "as_of_date": "DATE",
        "p_alive": "DOUBLE",
        "p_purchase_in_horizon": "DOUBLE",
        "expected_purchases_90d": "DOUBLE",
        "expected_purchases_365d": "DOUBLE",
        "expected_order_value": "DOUBLE",
        "predicted_clv_365d": "DOUBLE",
        "expected_next_order_date": "DATE",
        "churn_risk": "VARCHAR",
        "p_no_purchase_90d": "DOUBLE",
        "model": "VARCHAR",
    },
    PREDICTION_SCORES: {
        "as_of_date": "DATE",
        "x": "BIGINT",
        "t_x_days": "BIGINT",
        "t_days": "BIGINT",
        "customers": "BIGINT",
        "p_alive": "DOUBLE",
        "p_purchase_in_horizon": "DOUBLE",
        "p_no_purchase_90d": "DOUBLE",
        "expected_purchases_90d": "DOUBLE",
        "expected_purchases_365d": "DOUBLE",
        "discounted_purchases_365d": "DOUBLE",
        "churn_risk": "VARCHAR",
        "model": "VARCHAR",
    },
    MODEL_FIT: {
        "as_of_date": "DATE",
        "model": "VARCHAR",
        "parameter": "VARCHAR",
        "value": "DOUBLE",
        "log_likelihood": "DOUBLE",
        "customers": "BIGINT",
        "time_unit": "VARCHAR",
        "time_unit_days": "DOUBLE",
        "converged": "BOOLEAN",
        "status": "VARCHAR",
        "message": "VARCHAR",
        "iterations": "INTEGER",
        "fitted_at": "TIMESTAMP",
        "selected": "BOOLEAN",
        "selection_reason": "VARCHAR",
        "limiting_case": "VARCHAR",
    },
    MODEL_BACKTEST: {
        "as_of_date": "DATE",
        "calibration_end_date": "DATE",
        "holdout_days": "INTEGER",
        "time_unit": "VARCHAR",
        "breakdown": "VARCHAR",
        "bucket": "VARCHAR",
        "bucket_order": "INTEGER",
        "customers": "BIGINT",
        "actual_repeat_purchases": "BIGINT",
        "predicted_repeat_purchases": "DOUBLE",
        "error": "DOUBLE",
        "relative_error": "DOUBLE",
        "model": "VARCHAR",
    },
    REPLENISHMENT_CYCLES: {
        "category": "VARCHAR",
        "cycle_days": "DOUBLE",
        "sample_size": "BIGINT",
        "source": "VARCHAR",
    },
}


def time_unit_label(unit_days: float) -> str:
    """'day', 'week', or 'N days': the unit of t_x, T and alpha in a model run."""
    return {1.0: "day", 7.0: "week"}.get(float(unit_days), f"{unit_days:g} days")


_ARROW_TYPES = {
    "DATE": pa.date32(),
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
}


def arrow_rows(table: str, rows: list[dict] | pa.Table) -> pa.Table:
    """`rows` (dicts keyed by column, or an Arrow table) with the table's columns and types."""
    schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in COLUMNS[table].items()])
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema)
    return pa.Table.from_pylist(rows, schema=schema)


def replace_as_of_rows(
    con: duckdb.DuckDBPyConnection, table: str, as_of, rows: list[dict]
) -> int:
    """History tables on a DuckDB connection: the rows of `as_of` are replaced by `rows`, other
    dates kept; atomic."""
    from retention_pipeline.targets.write import write_duckdb

    write_duckdb(con, table, COLUMNS[table], arrow_rows(table, rows), as_of)
    return len(rows)


def write_rows(settings, table: str, rows: list[dict] | pa.Table, *, as_of=None) -> int:
    """`rows` into `table` of the dbt target: the rows of `as_of` replaced (history tables), or
    without it the whole table."""
    from retention_pipeline.targets.write import write_table

    return write_table(settings, table, COLUMNS[table], arrow_rows(table, rows), as_of=as_of)
