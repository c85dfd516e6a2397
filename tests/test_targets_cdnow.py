"""The same dbt models on three engines: the CDNOW master's cohort_retention and
repurchase_by_cohort built on DuckDB, PostgreSQL and local Spark (setting dbt_target), each cell
by cell against the independent pandas computation (tests/independent_marts.py).

Ingestion validates into one DuckDB warehouse; the raw rows are then loaded into the target
(PostgreSQL by COPY, Spark as Parquet partitioned by _batch_date) and dbt builds there. The
PostgreSQL case skips without the local server, the Spark case without java or pyspark.
"""

from __future__ import annotations

import sys

import pytest

from tests import independent_marts as independent
from tests.support.pipeline import ingest
from tests.support.serving_fixtures import fresh_pg_database
from tests.support.targets import TARGETS, build_on, read_mart, spark_missing, target_settings
from tests.test_marts_cdnow import AS_OF, cdnow_landing

pytestmark = pytest.mark.slow

SELECT = "+cohort_retention +repurchase_by_cohort"
DBT_VARS = {"as_of": AS_OF.isoformat(), "reporting_tz": "UTC", "min_order_value": 0}
BUILD_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def cdnow_raw(tmp_path_factory):
    """The CDNOW master ingested once into a DuckDB warehouse (its raw layer feeds every target)."""
    root = tmp_path_factory.mktemp("cdnow_targets")
    landing, _ = cdnow_landing(root / "landing")
    warehouse = root / "warehouse.duckdb"
    ingest(landing, warehouse, AS_OF)
    return root, landing, warehouse


@pytest.fixture(scope="module")
def reference(cdnow_raw):
    _, landing, _ = cdnow_raw
    occ = independent.occasions(independent.orders(landing, AS_OF, "UTC"))
    return {"cohort_retention": independent.cohort_retention(occ, AS_OF),
            "repurchase_by_cohort": independent.repurchase_by_cohort(occ, AS_OF)}


@pytest.fixture(scope="module", params=TARGETS)
def built(request, cdnow_raw):
    """The two marts built on one target (each target once per module)."""
    root, _, warehouse = cdnow_raw
    target = request.param
    if target == "spark" and (reason := spark_missing()):
        pytest.skip(f"local Spark unavailable: {reason}")
    if target == "postgres":
        with fresh_pg_database() as url:
            settings = target_settings(target, warehouse, root, url)
            yield _build(settings)
    else:
        yield _build(target_settings(target, warehouse, root, None))


def _build(settings):
    # Spark runs the models only: each of the ~60 dbt tests is a Spark job of its own (minutes in
    # local mode), the same SQL that DuckDB and PostgreSQL run, and the cells are compared below.
    run_only = settings.dbt_target == "spark"
    BUILD_SECONDS[settings.dbt_target] = build_on(settings, DBT_VARS, SELECT, run_only=run_only)
    print(f"\ndbt build ({SELECT}{', models only' if run_only else ''}) on "
          f"{settings.dbt_target}: {BUILD_SECONDS[settings.dbt_target]:.1f} s", file=sys.stderr)
    return {name: read_mart(settings, name) for name in ("cohort_retention", "repurchase_by_cohort")}


def test_cohort_retention_on_every_target(built, reference):
    actual, expected = built["cohort_retention"], reference["cohort_retention"]
    assert len(actual) == len(expected) > 0
    independent.assert_same_cells(
        actual, expected,
        keys=["cohort_granularity", "cohort_start", "period_index"],
        columns=["cohort_size", "active_customers", "repeat_customers", "retention_rate",
                 "on_or_after_customers", "orders", "net_revenue", "is_complete"],
        label="cohort_retention",
    )


def test_repurchase_by_cohort_on_every_target(built, reference):
    actual, expected = built["repurchase_by_cohort"], reference["repurchase_by_cohort"]
    assert len(actual) == len(expected) > 0
    independent.assert_same_cells(
        actual, expected,
        keys=["cohort_granularity", "cohort_start", "window_days"],
        columns=["cohort_size", "matured_customers", "repurchased_customers", "repurchase_rate",
                 "median_days_to_second"],
        label="repurchase_by_cohort",
    )
