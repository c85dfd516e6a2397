"""The purchase histories the models see, read from the dbt target.

dbt computes them (models/predictions): per observation end, the distinct (x, t_x, T) histories in
whole days with their customer counts (int_prediction_patterns), the distinct (x, repeat value) of
repeat customers (int_prediction_spend) and the holdout's daily occasions
(int_prediction_holdout_days). Only these small tables reach numpy: a million customers observed in
whole days have at most a few hundred thousand distinct histories, and the models' terms depend on
nothing else. Rows are sorted here, so the fit sees the same arrays whichever engine built them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .tables import HOLDOUT_DAYS, INPUT_SCHEMA, PATTERNS, SPEND

AS_OF_PERIOD, CALIBRATION_PERIOD = "as_of", "calibration"


class MissingInputError(RuntimeError):
    """A table the predictions read does not exist, or was built for another as-of date."""


@dataclass(frozen=True)
class Patterns:
    """Distinct (x, t_x, T) histories and how many customers share each.

    t_x and T are in the model's time unit; t_x_days and t_days are the same in days (the key
    the scores are written under). holdout: the customers' occasions after the calibration end
    (calibration period only; zeros otherwise)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    customers: np.ndarray
    t_x_days: np.ndarray | None = None
    t_days: np.ndarray | None = None
    holdout: np.ndarray | None = None

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


def read_input(settings, table: str, as_of: dt.date, sort: list[str]) -> pa.Table:
    """A prediction input of the dbt target, checked to be built for `as_of`, sorted by `sort`."""
    from retention_pipeline.targets.read import read_table, table_exists

    if not table_exists(settings, INPUT_SCHEMA, table):
        raise MissingInputError(
            f"{INPUT_SCHEMA}.{table} does not exist: build the dbt models first "
            "(`retention run` or `dbt build`)."
        )
    rows = read_table(settings, INPUT_SCHEMA, table)
    built = set(_dates(rows.column("as_of_date")))
    if built and built != {as_of}:
        raise MissingInputError(
            f"{INPUT_SCHEMA}.{table} was built for {', '.join(map(str, sorted(built)))}, not "
            f"{as_of}: materialize the dbt models for {as_of} first."
        )
    return rows.sort_by([(name, "ascending") for name in sort])


def read_patterns(settings, as_of: dt.date, period: str, unit_days: float,
                  period_end: dt.date | None = None) -> Patterns:
    """The histories of one observation end; `period_end` checks which (the calibration end of
    the settings and of the dbt build must agree)."""
    rows = read_input(settings, PATTERNS, as_of, ["period", "x", "t_x_days", "t_days"])
    rows = rows.filter(pc.equal(rows.column("period"), period))
    ends = set(_dates(rows.column("period_end")))
    if period_end is not None and ends and ends != {period_end}:
        raise MissingInputError(
            f"{INPUT_SCHEMA}.{PATTERNS} observes the {period} period up to "
            f"{', '.join(map(str, sorted(ends)))}, the settings up to {period_end}: build the dbt "
            "models with the same settings (Settings.dbt_vars) first."
        )
    x, t_x_days, t_days = (_floats(rows, c) for c in ("x", "t_x_days", "t_days"))
    return Patterns(
        x=x,
        t_x=t_x_days / unit_days,
        T=t_days / unit_days,
        customers=_floats(rows, "customers"),
        t_x_days=t_x_days.astype(np.int64),
        t_days=t_days.astype(np.int64),
        holdout=np.nan_to_num(_floats(rows, "holdout_occasions")),
    )


def read_spend(settings, as_of: dt.date) -> Spend:
    rows = read_input(settings, SPEND, as_of, ["x", "repeat_value"])
    x = _floats(rows, "x")
    return Spend(x=x, monetary=_floats(rows, "repeat_value") / np.where(x > 0, x, 1.0),
                 customers=_floats(rows, "customers"))


def read_holdout_days(settings, as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(days after the calibration end, occasions of the calibration customers that day)."""
    rows = read_input(settings, HOLDOUT_DAYS, as_of, ["day"])
    return _floats(rows, "day"), _floats(rows, "occasions")


def _floats(rows: pa.Table, column: str) -> np.ndarray:
    values = rows.column(column)
    if pa.types.is_decimal(values.type):
        # Python's float(Decimal) rounds correctly, Arrow's cast may be an ulp off: the fits must
        # see the same numbers whichever engine summed the decimals.
        return np.array([np.nan if v is None else float(v) for v in values.to_pylist()], float)
    return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _dates(column: pa.ChunkedArray) -> list[dt.date]:
    values = column.to_pylist()
    return [v.date() if isinstance(v, dt.datetime) else v for v in values if v is not None]
