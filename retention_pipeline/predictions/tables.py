"""The prediction tables in the warehouse: names and columns, in one place.

Every writer creates its table from these definitions when it has nothing to write, so a
consumer (BI, activation, checks) always finds the table with the right columns.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

SCHEMA = "marts"
OCCASIONS = "intermediate.int_purchase_occasions"
ORDERS = "intermediate.int_orders"
ORDER_ITEMS = "staging.stg_shop__order_items"
PRODUCTS = "staging.stg_shop__products"
CYCLE_OVERRIDES = "seeds.replenishment_cycle_overrides"

CUSTOMER_PREDICTIONS = f"{SCHEMA}.customer_predictions"
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


def column_list(table: str) -> str:
    return ", ".join(COLUMNS[table])


def create_sql(table: str, *, replace: bool) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS[table].items())
    verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    return f"{verb} {table} ({columns})"


def ensure_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The table (empty if new); an existing one is kept with its rows (history tables)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.execute(create_sql(table, replace=False))
    # a warehouse written by an earlier version lacks the columns added since: add them (NULL)
    for name, kind in COLUMNS[table].items():
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")


def empty_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Replace the table by an empty one with the right columns (snapshot tables)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.execute(create_sql(table, replace=True))


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0]
    return bool(found and found[0])


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


def arrow_rows(table: str, rows: list[dict]) -> pa.Table:
    """`rows` (dicts keyed by column) as an Arrow table with the table's column types."""
    schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in COLUMNS[table].items()])
    return pa.Table.from_pylist(rows, schema=schema)


def replace_as_of_rows(
    con: duckdb.DuckDBPyConnection, table: str, as_of, rows: list[dict]
) -> int:
    """History tables: the rows of `as_of` are replaced by `rows`, other dates kept; atomic."""
    view = f"_{table.split('.')[-1]}_rows"
    con.register(view, arrow_rows(table, rows))
    try:
        con.execute("begin transaction")
        try:
            ensure_table(con, table)
            con.execute(f"delete from {table} where as_of_date = ?", [as_of])
            con.execute(
                f"insert into {table} ({column_list(table)}) "
                f"select {column_list(table)} from {view}"
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister(view)
    return len(rows)
