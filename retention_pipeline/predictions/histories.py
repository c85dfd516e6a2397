"""Customer purchase histories from the warehouse, summarised in DuckDB for the models.

The per-customer (x, t_x, T, monetary) summary stays in a DuckDB temp table; only the distinct
histories (patterns) and their customer counts reach numpy. A million customers observed in
whole days have at most a few hundred thousand distinct (x, t_x, T) rows, and the models' terms
depend on nothing else, so the fit and every prediction cost follow the patterns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from .summary import summary_sql
from .tables import OCCASIONS, relation_exists


class MissingInputError(RuntimeError):
    """A warehouse table the predictions read does not exist."""


@dataclass(frozen=True)
class Patterns:
    """Distinct (x, t_x, T) histories and how many customers share each."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    customers: np.ndarray

    @property
    def n_customers(self) -> int:
        return int(self.customers.sum())

    @property
    def n_repeat_customers(self) -> int:
        return int(self.customers[self.x > 0].sum())


@dataclass(frozen=True)
class Spend:
    """Distinct (x, monetary) of repeat customers and their counts (Gamma-Gamma input)."""

    x: np.ndarray
    monetary: np.ndarray
    customers: np.ndarray


def occasions_until(end_date: dt.date) -> str:
    """The occasions up to `end_date` as (customer_id, occasion_date, occasion_value).

    The cut is repeated here although dbt already cuts at the as-of date: a partition
    re-materialized on a warehouse built for a later day must still see only its own days.
    """
    return (
        f"(select customer_id, occasion_date, net_amount as occasion_value from {OCCASIONS} "
        f"where occasion_date <= date '{end_date.isoformat()}')"
    )


def require_occasions(con: duckdb.DuckDBPyConnection) -> None:
    if not relation_exists(con, OCCASIONS):
        raise MissingInputError(
            f"{OCCASIONS} does not exist: build the dbt models first (`retention run` or `dbt build`)."
        )


def create_summary(
    con: duckdb.DuckDBPyConnection, name: str, end_date: dt.date, unit_days: float
) -> None:
    """Temp table `name`: customer_id, x, t_x, T, monetary (see summary.py) up to end_date."""
    require_occasions(con)
    sql = summary_sql(occasions_until(end_date), end_date, unit_days)
    con.execute(f"create or replace temp table {name} as {sql}")


def fetch_patterns(con: duckdb.DuckDBPyConnection, summary: str) -> Patterns:
    columns = con.execute(
        f'select x, t_x, "T", count(*) as customers from {summary} group by all'
    ).fetchnumpy()
    return Patterns(
        x=np.asarray(columns["x"], dtype=float),
        t_x=np.asarray(columns["t_x"], dtype=float),
        T=np.asarray(columns["T"], dtype=float),
        customers=np.asarray(columns["customers"], dtype=float),
    )


def fetch_spend(con: duckdb.DuckDBPyConnection, summary: str) -> Spend:
    # monetary >= 0 holds for valid purchases (net >= min_order_value >= 0); the filter keeps a
    # hand-made warehouse with negative nets from reaching the model as an error.
    columns = con.execute(
        f"select x, monetary, count(*) as customers from {summary} "
        "where x > 0 and monetary >= 0 group by all"
    ).fetchnumpy()
    return Spend(
        x=np.asarray(columns["x"], dtype=float),
        monetary=np.asarray(columns["monetary"], dtype=float),
        customers=np.asarray(columns["customers"], dtype=float),
    )
