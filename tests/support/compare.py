"""Comparing a table as two dbt targets hold it: same columns, same rows, floats to a tolerance,
whatever types the drivers return (dates, timestamps with or without zone, decimals, booleans)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

FLOAT_TOLERANCE = 1e-9


def frame_difference(name: str, actual: pd.DataFrame, expected: pd.DataFrame,
                     tolerance: float = FLOAT_TOLERANCE) -> str | None:
    """None when the frames hold the same rows (in any order), else what differs."""
    if sorted(actual.columns) != sorted(expected.columns):
        return f"{name}: columns {sorted(actual.columns)} != {sorted(expected.columns)}"
    if len(actual) != len(expected):
        return f"{name}: {len(actual)} rows, the reference has {len(expected)}"
    actual, expected = comparable(actual[expected.columns]), comparable(expected)
    for column in expected.columns:
        left, right = actual[column], expected[column]
        both_null = left.isna() & right.isna()
        if pd.api.types.is_float_dtype(right):
            same = (left - right).abs() <= tolerance
        else:
            same = left.astype(object) == right.astype(object)
        bad = ~(both_null | same.fillna(False).astype(bool))
        if bad.any():
            return (f"{name}.{column}: {int(bad.sum())} cells differ, e.g. "
                    f"{left[bad].head(3).tolist()} vs {right[bad].head(3).tolist()}")
    return None


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats, dates and timestamps as naive UTC datetimes, then rows in one order
    (floats rounded for the sort only, so that a last-digit difference cannot reorder rows)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.map(lambda v: isinstance(v, dt.date)).any():
            values = frame[column] = pd.to_datetime(values, utc=any(
                getattr(v, "tzinfo", None) is not None for v in values.dropna()))
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_bool_dtype(values) or values.map(lambda v: isinstance(v, bool)).any():
            frame[column] = values.astype(object)
        elif pd.api.types.is_numeric_dtype(values) or values.map(
                lambda v: type(v).__name__ == "Decimal").any():
            frame[column] = values.astype(float)
    keys = [frame[c].round(6) if pd.api.types.is_float_dtype(frame[c]) else frame[c].astype(str)
            for c in frame.columns]
    order = pd.DataFrame(dict(enumerate(keys))).sort_values(list(range(len(keys)))).index
    return frame.loc[order].reset_index(drop=True)
