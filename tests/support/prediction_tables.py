"""Warehouses for the prediction tests: the purchase occasions, written by hand (fast; the real
ingestion + dbt path is covered by test_predictions_cdnow_e2e), and a helper that builds the
prediction models with dbt and materializes the prediction assets through Dagster between them,
as the daily run does.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from retention_pipeline.predictions import simulate_bgnbd
from retention_pipeline.settings import Settings
from retention_pipeline.warehouse import connect


def write_occasions(warehouse: Path, occasions: pd.DataFrame) -> None:
    """intermediate.int_purchase_occasions from rows (customer_id, occasion_date, net_amount);
    rows of one customer and day are summed into one occasion, as dbt does."""
    frame = occasions[["customer_id", "occasion_date", "net_amount"]].copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["occasion_date"] = pd.to_datetime(frame["occasion_date"]).dt.date
    with connect(warehouse) as con:
        con.execute("create schema if not exists intermediate")
        con.register("_occasions_in", frame)
        con.execute(
            """
            create or replace table intermediate.int_purchase_occasions as
            select customer_id, occasion_date,
                   cast(sum(net_amount) as decimal(18, 4)) as net_amount
            from _occasions_in
            group by customer_id, occasion_date
            """
        )
        con.unregister("_occasions_in")


def simulated_occasions(
    customers: int, as_of: dt.date, *, seed: int = 1, max_age_days: int = 500
) -> pd.DataFrame:
    """Occasions of a BG/NBD population (alpha in days) over the days up to `as_of`."""
    rng = np.random.default_rng(seed)
    params = {"r": 0.5, "alpha": 40.0, "a": 0.7, "b": 2.5}
    age = rng.integers(0, max_age_days, size=customers).astype(float)
    x, t_x, _ = simulate_bgnbd(params, age, seed=rng)
    rows = []
    for i in range(customers):
        first = as_of - dt.timedelta(days=int(age[i]))
        offsets = {0}
        if x[i] > 0:
            last = max(1, min(round(t_x[i]), int(age[i])))
            offsets |= {last, *rng.integers(1, last + 1, size=int(x[i]) - 1).tolist()}
        spend = rng.gamma(5.0, 8.0)
        for offset in offsets:
            if age[i] == 0 and offset > 0:
                continue
            rows.append((f"c{i:05d}", first + dt.timedelta(days=int(offset)),
                         round(rng.gamma(4.0, spend / 4.0), 2)))
    return pd.DataFrame(rows, columns=["customer_id", "occasion_date", "net_amount"])


PREDICTIONS = "marts/customer_predictions"
SCORES = "marts/prediction_scores"


def materialize(
    settings: Settings, as_of: dt.date | str, *, select: list[str] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize the prediction assets (all, or the `select`ed keys like 'marts/model_fit'):
    dbt builds their inputs (models/predictions) on the hand-made occasions first, and, when
    customer_predictions is asked for, joins the scores to the customers after them."""
    from retention_pipeline.assets.predictions import build_prediction_assets
    from retention_pipeline.partitions import daily_partitions

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    as_of = dt.date.fromisoformat(str(as_of))
    dbt_vars = settings.dbt_vars(as_of)
    dbt_predictions(settings, ["--select", "int_prediction_histories+",
                               "--exclude", "tag:after_predictions"], dbt_vars,
                    must_pass=raise_on_error)
    partitions = daily_partitions(settings, earliest=min(as_of, dt.date(1997, 1, 1)))
    assets = build_prediction_assets(settings, partitions)
    keys = None if select is None else list(select)
    join = keys is None or PREDICTIONS in keys
    if keys is not None and PREDICTIONS in keys:
        keys = [SCORES if key == PREDICTIONS else key for key in keys]
    selection = None if keys is None else [dg.AssetKey(key.split("/")) for key in keys]
    result = dg.materialize(
        assets,
        partition_key=as_of.isoformat(),
        selection=selection,
        raise_on_error=raise_on_error,
    )
    if join and result.success:
        dbt_predictions(settings, ["--select", "customer_predictions"], dbt_vars)
    return result


def dbt_predictions(settings: Settings, args: list[str], dbt_vars: dict,
                    must_pass: bool = True) -> None:
    """`dbt build` of prediction models on the settings' warehouse."""
    from tests.support.pipeline import dbt

    try:
        dbt(["build", *args], settings.warehouse, dbt_vars)
    except AssertionError:
        if must_pass:
            raise


def metadata_of(result: dg.ExecuteInProcessResult, key: str) -> dict:
    """The materialization metadata of one asset ('marts/model_fit'), values unwrapped."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key.to_user_string() == key:
            return {k: v.value for k, v in materialization.metadata.items()}
    raise KeyError(f"{key} was not materialized")


def table(warehouse: Path, sql: str) -> pd.DataFrame:
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).df()
