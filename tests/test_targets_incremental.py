"""Daily incremental runs on PostgreSQL: the touched models' delete+insert SQL, run off DuckDB.

A generated shop with two daily drops is run day by day (the history, then each drop added to the
landing folder before its day's run), through run_pipeline, on duckdb and on postgres. The two
daily runs on postgres must be incremental, and after each of them every table of schemas
`intermediate` and `marts` must equal duckdb's, which builds the same days incrementally too
(test_incremental_equals_full.py shows duckdb's incremental builds equal full refreshes).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from retention_pipeline.generator import generate_shop
from retention_pipeline.runner import run_pipeline
from retention_pipeline.settings import load_settings
from retention_pipeline.targets.read import list_tables, read_table
from retention_pipeline.warehouse import connect
from tests.support.compare import frame_difference
from tests.support.serving_fixtures import fresh_pg_database

pytestmark = pytest.mark.slow

END = dt.date(2025, 6, 30)
DROPS = (END - dt.timedelta(days=1), END)
HISTORY_DAY = END - dt.timedelta(days=2)
DAILY = ("orders", "order_items", "events")
SCHEMAS = ("intermediate", "marts")
MIN_CUSTOMERS = 200  # the predictions and what reads them are part of the days compared
RUN_METADATA = {"model_fit": ["fitted_at"], "serving_log": ["published_at"]}


def _land(source: Path, landing: Path, day: dt.date) -> None:
    """The landing folder as it is on `day`: the history files, then each drop up to that day."""
    for path in source.rglob("*.csv"):
        kept = path.parent == source or path.stem.endswith("-history") \
            or dt.date.fromisoformat(path.stem) <= day
        target = landing / path.relative_to(source)
        if kept and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _settings(root: Path, target: str, day: dt.date, url: str | None):
    folder = root / target
    return load_settings(
        landing=folder / "landing", warehouse=folder / "warehouse.duckdb",
        exports=folder / "exports", dagster_home=folder / "dagster_home",
        serving=folder / "serving.duckdb", as_of=day, dbt_target=target, warehouse_url=url,
        duckdb_threads=2, prediction_min_customers=MIN_CUSTOMERS,
    )


def _tables(settings) -> dict:
    tables = {}
    for schema in SCHEMAS:
        for name in list_tables(settings, schema):
            frame = read_table(settings, schema, name).to_pandas()
            tables[f"{schema}.{name}"] = frame.drop(columns=RUN_METADATA.get(name, []))
    return tables


def _last_build_mode(settings) -> str:
    with connect(settings.warehouse, read_only=True) as con:
        return con.execute(
            "select mode from pipeline.dbt_builds order by started_at desc limit 1").fetchone()[0]


def _days(root: Path, target: str, url: str | None = None) -> list[tuple[str, dict]]:
    """Each day's build mode and tables, the history's day first."""
    days = []
    for day in (HISTORY_DAY, *DROPS):
        settings = _settings(root, target, day, url)
        _land(root / "source", Path(settings.landing), day)
        outcome = run_pipeline(settings)
        assert outcome.success, f"{target} {day}: {outcome.failures}"
        days.append((_last_build_mode(settings), _tables(settings)))
    return days


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental_targets")
    generate_shop(root / "source", 600, seed=23, end=END, days=len(DROPS))
    return root


def test_daily_runs_on_postgres_are_incremental_and_equal_duckdbs(shop):
    reference = _days(shop, "duckdb")
    with fresh_pg_database() as url:
        days = _days(shop, "postgres", url)
    assert [mode for mode, _ in days] == ["full", "incremental", "incremental"]
    assert [mode for mode, _ in reference] == ["full", "incremental", "incremental"]
    for day, (_, expected), (_, actual) in zip((HISTORY_DAY, *DROPS), reference, days, strict=True):
        missing = set(expected) - set(actual) - {"marts.serving_log"}
        assert not missing, f"{day}: tables missing on postgres: {sorted(missing)}"
        problems = [problem for name in sorted(set(expected) & set(actual))
                    if (problem := frame_difference(name, actual[name], expected[name]))]
        assert not problems, f"{day}: tables that differ on postgres:\n" + "\n".join(problems)
    last = reference[-1][1]
    assert len(last["marts.fct_orders"]) > 500 and len(last["marts.customer_predictions"]) > 200
