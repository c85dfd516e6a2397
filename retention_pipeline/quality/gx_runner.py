"""Validate a pandas DataFrame against a Great Expectations 1.x suite; return a plain summary.

No Dagster here: `run_suite(df, name, expectations)` gives `ExpectationOutcome`s that tests read
directly and `checks.py` turns into asset-check results. Great Expectations is imported by the callers' lazy
imports only (the code location must load without it).

Each expectation carries its severity in `meta` (`{"severity": "error" | "warn", "why": ...}`):
the suite modules decide, the runner only reads it. A missing severity means "error".
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retention_pipeline.redact import mask_all

# Read by Great Expectations when a context leaves analytics unset; set before GX is imported.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

ERROR = "error"
WARN = "warn"
SAMPLE_SIZE = 10
POSITION = "position"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one frame, with what a reader needs to find the bad rows."""

    expectation: str
    columns: tuple[str, ...]
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: list[Any] = field(default_factory=list)
    bounds: str | None = None
    condition: str | None = None
    why: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """e.g. `expect_column_values_to_be_between(quantity, 1..)` — unique within a suite."""
        arguments = ", ".join([*self.columns, *([self.bounds] if self.bounds else [])])
        where = f" where {self.condition}" if self.condition else ""
        return f"{self.expectation}({arguments}){where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.label,
            "severity": self.severity,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample": self.sample,
            "why": self.why,
            "error": self.error,
        }


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]

    def of_severity(self, severity: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == severity]

    def failed(self, severity: str | None = None) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and severity in (None, o.severity)]

    def by_label(self) -> dict[str, ExpectationOutcome]:
        return {o.label: o for o in self.outcomes}


def ephemeral_context():
    """An in-memory GX context: nothing written to disk, no analytics, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suite(
    df: pd.DataFrame, name: str, expectations: Sequence, sample_size: int = SAMPLE_SIZE
) -> SuiteOutcome:
    """Validate the whole frame as one batch against the expectations; outcomes in their order.

    The suite is assembled here, after the context exists: GX 1.x binds a suite to the current
    context when expectations are added.
    """
    import great_expectations as gx

    context = ephemeral_context()
    for position, expectation in enumerate(expectations):
        # GX returns results in metric-resolution order; the position restores the suite's.
        expectation.meta = {**(expectation.meta or {}), POSITION: position}
    suite = gx.ExpectationSuite(name=name, expectations=list(expectations))
    if len(suite.expectations) != len(expectations):
        raise ValueError(f"suite {name}: an expectation was rejected or is a duplicate")
    batch_definition = (
        context.data_sources.add_pandas("quality")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _gx_friendly(df)})
    result = batch.validate(
        suite,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": sample_size},
    )
    results = sorted(result.results, key=lambda r: r.expectation_config.meta[POSITION])
    return SuiteOutcome(suite=name, rows=len(df), outcomes=tuple(map(_outcome, results)))


def merge(name: str, outcomes: Iterable[SuiteOutcome]) -> SuiteOutcome:
    """Several frames' outcomes (e.g. a mart's rows and its totals) as one suite's."""
    outcomes = list(outcomes)
    return SuiteOutcome(
        suite=name,
        rows=sum(o.rows for o in outcomes),
        outcomes=tuple(x for o in outcomes for x in o.outcomes),
    )


def _gx_friendly(df: pd.DataFrame) -> pd.DataFrame:
    """Column types GX's pandas metrics handle well (DuckDB's frames are not all of them).

    - nullable integers (INTEGER with nulls -> Int32): GX calls `bool()` on comparisons, which
      raises on `pd.NA`; as int64, or float64 when there are nulls;
    - other integers and microsecond timestamps: GX's range check is vectorized only for int64 /
      float64 and nanosecond timestamps, and otherwise runs a Python function per row (~10x
      slower). A timestamp outside the nanosecond range (before 1677 or after 2262) stays as it is.
    """
    converted = {}
    for column, dtype in df.dtypes.items():
        series = df[column]
        if pd.api.types.is_integer_dtype(dtype) and dtype != np.int64:
            converted[column] = series.astype("float64" if series.isna().any() else "int64")
        elif isinstance(dtype, pd.BooleanDtype):
            converted[column] = series.astype("object").where(series.notna(), None)
        elif pd.api.types.is_datetime64_dtype(dtype) and dtype != np.dtype("datetime64[ns]"):
            try:
                converted[column] = series.astype("datetime64[ns]")
            except (OverflowError, pd.errors.OutOfBoundsDatetime):
                pass
    return df.assign(**converted) if converted else df


def _outcome(result) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    meta = config.meta or {}
    details = result.result or {}
    columns = _columns(kwargs)
    # Samples go to Dagster metadata and logs: values of personal-data columns are masked.
    sample = [json_safe(v) for v in details.get("partial_unexpected_list") or []]
    return ExpectationOutcome(
        expectation=config.type,
        columns=columns,
        severity=meta.get("severity", ERROR),
        success=bool(result.success),
        element_count=_int_or_none(details.get("element_count")),
        unexpected_count=_int_or_none(details.get("unexpected_count")),
        unexpected_percent=_float_or_none(details.get("unexpected_percent")),
        sample=mask_all(columns, sample),
        bounds=_bounds(kwargs),
        condition=_condition_text(kwargs.get("row_condition")),
        why=meta.get("why"),
        error=_exception_message(result.exception_info),
    )


def _columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return tuple(kwargs.get("column_list") or ())


def _bounds(kwargs: Mapping[str, Any]) -> str | None:
    """`low..high` of a range expectation (either side may be open)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        return None
    return f"{_bound_text(low)}..{_bound_text(high)}"


def _bound_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _condition_text(condition: Any) -> str | None:
    if condition is None:
        return None
    if isinstance(condition, Mapping) and condition.get("type") == "comparison":
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    return str(condition)


def _exception_message(info: Any) -> str | None:
    """GX nests exception info per metric; the first message raised is enough to act on."""
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "exception"
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return value.get("exception_message") or "exception"
    return None


def json_safe(value: Any) -> Any:
    """A sample value as JSON (Dagster metadata): NaN/NaT -> None, timestamps -> ISO text."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
