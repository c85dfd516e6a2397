"""The whole pipeline (run_pipeline: ingestion, dbt's first phase, the prediction fits, dbt's
second phase, activation, exports, serving) of a generated 2,000-customer shop on duckdb, postgres
and local Spark: every table of schema `marts` identical across the targets (floats to 1e-9,
model_fit.fitted_at excluded), and the export files byte-identical where every target wrote them.

The comparison is generic: it covers every table the reference (duckdb) holds in `marts`, the
activation tables (campaign_candidates, contact_log, segment_members, campaign_lift) included, and
the CRM export files written from each target's candidates.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

from retention_pipeline.generator import generate_shop
from retention_pipeline.runner import run_pipeline
from retention_pipeline.settings import load_settings
from retention_pipeline.targets.read import list_tables, read_table
from tests.support.compare import frame_difference
from tests.support.serving_fixtures import fresh_pg_database
from tests.support.targets import spark_missing

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 6, 30)
TZ = "America/New_York"
RUN_METADATA = {"model_fit": ["fitted_at"], "serving_log": ["published_at"]}


def _run(root: Path, target: str, url: str | None = None):
    folder = root / target
    settings = load_settings(
        landing=root / "landing", warehouse=folder / "warehouse.duckdb",
        exports=folder / "exports", dagster_home=folder / "dagster_home",
        serving=folder / "serving.duckdb", lake=folder / "lake", as_of=AS_OF, reporting_tz=TZ,
        dbt_target=target, warehouse_url=url, duckdb_threads=2,
    )
    started = time.monotonic()
    outcome = run_pipeline(settings)
    print(f"\nrun_pipeline of the 2,000-customer shop on {target}: "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    marts = {name: read_table(settings, "marts", name).to_pandas()
             for name in list_tables(settings, "marts")}
    for name, columns in RUN_METADATA.items():
        if name in marts:
            marts[name] = marts[name].drop(columns=columns)
    exports = {p.relative_to(settings.exports): p.read_bytes()
               for p in sorted(Path(settings.exports).rglob("*")) if p.is_file()}
    return outcome, marts, exports


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline_targets")
    generate_shop(root / "landing", 2000, seed=11, end=AS_OF)
    outcome, marts, exports = _run(root, "duckdb")
    assert outcome.success, outcome.failures
    return root, marts, exports


@pytest.fixture(scope="module",
                params=["postgres", pytest.param("spark", marks=pytest.mark.spark)])
def other_target(request, shop):
    root = shop[0]
    if request.param == "spark":
        if reason := spark_missing():
            pytest.skip(f"local Spark unavailable: {reason}")
        yield request.param, *_run(root, "spark")
    else:
        with fresh_pg_database() as url:
            yield request.param, *_run(root, "postgres", url)


def test_every_mart_is_identical_on_every_target(shop, other_target):
    _, reference, reference_exports = shop
    target, outcome, marts, exports = other_target
    assert outcome.success, f"steps that failed on {target}: {outcome.failures}"
    assert {"customer_predictions", "prediction_scores", "model_fit", "model_backtest",
            "replenishment_cycles", "dim_customers_history", "segment_migration",
            "fct_orders", "campaign_candidates", "contact_log", "segment_members",
            "campaign_lift"} <= set(reference)
    # serving_log is the pipeline's own bookkeeping: it stays in the DuckDB warehouse
    missing = set(reference) - set(marts) - {"serving_log"}
    assert not missing, f"marts missing on {target}: {sorted(missing)}"
    problems = [problem for name in sorted(set(reference) & set(marts))
                if (problem := frame_difference(name, marts[name], reference[name]))]
    assert not problems, f"marts that differ on {target}:\n" + "\n".join(problems)
    assert len(reference["customer_predictions"]) > 1000
    assert (reference["campaign_candidates"]["state"] == "queued").sum() > 50
    campaign_files = [p for p in reference_exports if p.parts[1] == "campaigns"]
    assert len(campaign_files) >= 5
    assert sorted(exports) == sorted(reference_exports)
    different = [str(p) for p in reference_exports if exports[p] != reference_exports[p]]
    assert not different, f"export files that differ on {target}: {different}"
