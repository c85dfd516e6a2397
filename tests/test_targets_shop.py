"""Every dbt mart of a generated 2,000-customer shop, identical on DuckDB, PostgreSQL and local
Spark (setting dbt_target): same rows, same values, floats to 1e-9.

The shop has products, order lines and after-sales events (JSON properties) and reports in a time
zone west of UTC, so the engines' JSON, time-zone and date functions are all exercised. DuckDB's
`dbt build` runs the dbt tests as well; the other targets run the models (`dbt run`): the tests
are the same SQL and a Spark job each, and the comparison below is the stronger check.
"""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd
import pytest

from retention_pipeline.generator import generate_shop
from tests.support.pipeline import ingest, query
from tests.support.serving_fixtures import fresh_pg_database
from tests.support.targets import build_on, read_mart, spark_missing, target_settings

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 6, 30)
TZ = "America/New_York"
DBT_VARS = {"as_of": AS_OF.isoformat(), "reporting_tz": TZ, "min_order_value": 0}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop ingested once and built on DuckDB (models and dbt tests): the reference."""
    root = tmp_path_factory.mktemp("shop_targets")
    generate_shop(root / "landing", 2000, seed=11, end=AS_OF)
    warehouse = root / "warehouse.duckdb"
    ingest(root / "landing", warehouse, AS_OF)
    settings = target_settings("duckdb", warehouse, root, None)
    seconds = build_on(settings, DBT_VARS)
    print(f"\ndbt build (all models and tests) of the 2,000-customer shop on duckdb: {seconds:.1f} s",
          file=sys.stderr)
    marts = [name for (name,) in query(warehouse, """
        select table_name from information_schema.tables where table_schema = 'marts'
        order by table_name""").itertuples(index=False)]
    return root, warehouse, {name: read_mart(settings, name) for name in marts}


@pytest.fixture(scope="module", params=["postgres", pytest.param("spark", marks=pytest.mark.spark)])
def other_target(request, shop):
    root, warehouse, reference = shop
    if request.param == "spark" and (reason := spark_missing()):
        pytest.skip(f"local Spark unavailable: {reason}")
    if request.param == "postgres":
        with fresh_pg_database() as url:
            yield _run_on(target_settings("postgres", warehouse, root, url), reference)
    else:
        yield _run_on(target_settings("spark", warehouse, root, None), reference)


def _run_on(settings, reference):
    seconds = build_on(settings, DBT_VARS, run_only=True)
    print(f"\ndbt run (all models) of the 2,000-customer shop on {settings.dbt_target}: "
          f"{seconds:.1f} s", file=sys.stderr)
    return settings.dbt_target, {name: read_mart(settings, name) for name in reference}


def test_every_mart_is_identical_on_every_target(shop, other_target):
    _, _, reference = shop
    target, marts = other_target
    assert len(reference) >= 9
    problems = [problem for name, expected in reference.items()
                if (problem := _difference(name, marts[name], expected))]
    assert not problems, f"marts that differ on {target}:\n" + "\n".join(problems)


def _difference(name: str, actual: pd.DataFrame, expected: pd.DataFrame) -> str | None:
    if sorted(actual.columns) != sorted(expected.columns):
        return f"{name}: columns {sorted(actual.columns)} != {sorted(expected.columns)}"
    if len(actual) != len(expected):
        return f"{name}: {len(actual)} rows, DuckDB has {len(expected)}"
    actual, expected = _comparable(actual[expected.columns]), _comparable(expected)
    for column in expected.columns:
        left, right = actual[column], expected[column]
        both_null = left.isna() & right.isna()
        if pd.api.types.is_float_dtype(right):
            same = (left - right).abs() <= 1e-9
        else:
            same = left.astype(object) == right.astype(object)
        bad = ~(both_null | same.fillna(False).astype(bool))
        if bad.any():
            return (f"{name}.{column}: {int(bad.sum())} cells differ, e.g. "
                    f"{left[bad].head(3).tolist()} vs DuckDB {right[bad].head(3).tolist()}")
    return None


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats, dates and timestamps as naive UTC datetimes, then rows in one order (floats rounded for
    the sort only, so that a last-digit difference cannot reorder rows)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.map(lambda v: isinstance(v, dt.date)).any():  # dates or datetimes, any driver
            values = frame[column] = pd.to_datetime(values, utc=any(
                getattr(v, "tzinfo", None) is not None for v in values.dropna()))
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_bool_dtype(values) or values.map(lambda v: isinstance(v, bool)).any():
            frame[column] = values.astype(object)
        elif pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype(float)
    keys = [frame[c].round(6) if pd.api.types.is_float_dtype(frame[c]) else frame[c].astype(str)
            for c in frame.columns]
    order = pd.DataFrame({i: k for i, k in enumerate(keys)}).sort_values(list(range(len(keys)))).index
    return frame.loc[order].reset_index(drop=True)
