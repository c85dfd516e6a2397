"""Benchmark: the prediction assets on a warehouse of 1,000,000 customers.

Builds a DuckDB warehouse with the tables the assets read (intermediate.int_purchase_occasions,
intermediate.int_orders and int_order_lines, staging.stg_shop__order_items and stg_shop__products)
from customers drawn from a BG/NBD process (known parameters, alpha in days) whose first purchases
are spread over two years, observed in whole days. Then builds the prediction inputs with dbt
(models/predictions), materializes the three prediction assets through Dagster for the as-of
date, joins the scores to the customers with dbt (customer_predictions), and reports each step's
time and the fitted parameters.

    .venv/bin/python benchmarks/bench_prediction_assets.py [--customers 1000000] [--seed 7]
        [--warehouse /tmp/bench_predictions.duckdb]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from retention_pipeline.assets.predictions import build_prediction_assets
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.predictions import simulate_bgnbd
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect

TRUE_DAYS = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}
AS_OF = dt.date(2026, 6, 30)
CATEGORIES = 12
PRODUCTS = 240


def simulate_occasions(customers: int, seed: int) -> dict[str, np.ndarray]:
    """Occasion rows (customer, day offset before as-of, value) of a BG/NBD population."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 731, size=customers).astype(float)  # days since the first occasion
    x, t_x, _ = simulate_bgnbd(TRUE_DAYS, age, seed=rng)
    x = x.astype(np.int64)
    t_x = np.where(x > 0, np.clip(np.round(t_x), 1, np.maximum(age, 1)), 0.0)
    counts = x + 1
    customer = np.repeat(np.arange(customers), counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    # first occasion at 0, last at t_x, the ones between uniform in (0, t_x)
    span = np.repeat(t_x, counts)
    last = position == np.repeat(x, counts)
    offset = np.where(position == 0, 0.0, np.where(last, span, rng.uniform(0, 1, span.size) * span))
    days_after_first = np.round(offset)
    first_day_before_as_of = np.repeat(age, counts)
    spend_mean = np.repeat(rng.gamma(4.0, 10.0, customers), counts)
    value = np.round(rng.gamma(6.0, spend_mean / 6.0), 2)
    return {
        "customer": customer,
        "days_before_as_of": (first_day_before_as_of - days_after_first).astype(np.int64),
        "value": value,
    }


def build_warehouse(path: Path, customers: int, seed: int) -> int:
    rows = simulate_occasions(customers, seed)
    rng = np.random.default_rng(seed + 1)
    occasions = pa.table(rows)
    items_per_order = rng.integers(1, 3, size=len(rows["customer"]))
    with connect(path) as con:
        for schema in ("intermediate", "staging", "seeds"):
            con.execute(f"create schema if not exists {schema}")
        con.register("sim", occasions)
        con.execute(
            f"""
            create or replace table intermediate.int_purchase_occasions as
            select distinct on (customer_id, occasion_date)
                'c' || customer as customer_id,
                date '{AS_OF}' - cast(days_before_as_of as integer) as occasion_date,
                cast(value as decimal(18, 4)) as net_amount
            from sim
            """
        )
        con.execute(
            """
            create or replace table intermediate.int_orders as
            select 'o' || row_number() over () as order_id, customer_id,
                   occasion_date as order_date, net_amount, true as is_valid_purchase
            from intermediate.int_purchase_occasions
            """
        )
        n_orders = con.execute("select count(*) from intermediate.int_orders").fetchall()[0][0]
        items = pa.table({
            "order_n": np.repeat(np.arange(1, n_orders + 1), items_per_order[:n_orders]),
        })
        items = items.append_column(
            "product", pa.array(rng.integers(0, PRODUCTS, size=items.num_rows))
        )
        con.register("sim_items", items)
        con.execute(
            """
            create or replace table staging.stg_shop__order_items as
            select 'o' || order_n as order_id, 'p' || product as product_id, 1 as quantity
            from sim_items
            """
        )
        con.execute(
            f"""
            create or replace table staging.stg_shop__products as
            select 'p' || i as product_id, 'category_' || (i % {CATEGORIES}) as category
            from range({PRODUCTS}) as t(i)
            """
        )
        con.execute(
            """
            create or replace table intermediate.int_order_lines as
            select o.order_id, o.customer_id, o.order_date, o.is_valid_purchase, i.product_id
            from intermediate.int_orders as o
            join staging.stg_shop__order_items as i on i.order_id = o.order_id
            """
        )
        return int(n_orders)


def _dbt(settings, args: list[str]) -> None:
    """`dbt build` of prediction models on the benchmark's warehouse."""
    import json
    import os

    from retention_pipeline.assets.dbt import dbt_project, dbt_resource
    from retention_pipeline.warehouse import dbt_duckdb_env

    os.environ["RETENTION_WAREHOUSE"] = str(settings.warehouse.resolve())
    os.environ.update(dbt_duckdb_env(settings))
    vars_ = json.dumps(settings.dbt_vars(AS_OF))
    dbt_resource(dbt_project()).cli(["build", "--vars", vars_, *args]).wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warehouse", type=Path, default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    folder = Path(tempfile.mkdtemp(prefix="bench_predictions_"))
    warehouse = args.warehouse or folder / "warehouse.duckdb"
    started = time.perf_counter()
    occasions = build_warehouse(warehouse, args.customers, args.seed)
    print(f"warehouse: {args.customers:,} customers, {occasions:,} occasions/orders "
          f"in {time.perf_counter() - started:.1f} s ({warehouse})")

    settings = load_settings(warehouse=warehouse, prediction_time_unit_days=1.0)
    started = time.perf_counter()
    _dbt(settings, ["--select", "path:models/predictions", "--exclude", "tag:after_predictions"])
    print(f"dbt: prediction inputs in {time.perf_counter() - started:.1f} s")
    partitions = daily_partitions(settings, earliest=AS_OF - dt.timedelta(days=800))
    assets = build_prediction_assets(settings, partitions)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = dg.materialize(assets, partition_key=AS_OF.isoformat(), instance=instance)
        total = time.perf_counter() - started
        steps = {
            e.step_key: e.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
            for e in result.all_events
            if e.event_type_value == "STEP_SUCCESS"
        }
    print(f"the three fit assets through Dagster: {total:.1f} s")
    started = time.perf_counter()
    _dbt(settings, ["--select", "customer_predictions"])
    print(f"dbt: customer_predictions in {time.perf_counter() - started:.1f} s")
    for step, seconds in steps.items():
        print(f"  {step:32s} {seconds:6.1f} s")
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        key = event.materialization.asset_key.to_user_string()
        if key == "marts/model_fit":
            print(f"  fit only (numpy/scipy part): {metadata['fit_seconds'].value:.2f} s")
            for name, true in TRUE_DAYS.items():
                value = metadata[f"bgnbd_{name}"].value
                print(f"    {name:6s} true {true:8.4f} fitted {value:8.4f} ({value / true - 1:+.2%})")
        if key == "marts/prediction_scores":
            print(f"  scoring: {metadata['distinct_histories'].value:,} distinct histories, "
                  f"{metadata['customers'].value:,} customers")
        if key == "marts/model_backtest":
            print(f"  backtest: actual {metadata['actual_repeat_purchases'].value:,}, predicted "
                  f"{metadata['predicted_repeat_purchases'].value:,.0f}")


if __name__ == "__main__":
    main()
