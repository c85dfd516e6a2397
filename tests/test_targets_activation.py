"""Activation on every dbt target: a generated 2,000-customer shop's campaign_candidates,
contact_log (two days: the second day's caps and cooldowns read the first day's log),
segment_members and campaign_lift identical on DuckDB, PostgreSQL and local Spark (floats to
1e-9), and the CRM files written from each target byte-identical.

The prediction fits run once, in Python on DuckDB (as the pipeline's predictions assets do), and
their two tables are put into the other targets as they are, so every engine decides from the
same inputs. DuckDB builds the models and runs the blocking checks; the other targets run them too
(the checks are part of the activation build).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retention_pipeline.activation import exports
from retention_pipeline.generator import generate_shop
from retention_pipeline.targets import dbt_target_env, load_raw_into_target
from retention_pipeline.warehouse import connect
from tests.support.pipeline import dbt, ingest
from tests.support.serving_fixtures import fresh_pg_database
from tests.support.targets import read_mart, spark_missing, target_settings
from tests.test_targets_shop import _difference

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 6, 30)
DAYS = (AS_OF, AS_OF + dt.timedelta(days=1))
TABLES = ("campaign_candidates", "contact_log", "segment_members", "campaign_lift")
# what the activation models read from the Python prediction fits (models/marts/_python_marts.yml)
PYTHON_MARTS = {
    "customer_predictions": ["customer_id", "predicted_clv_365d", "churn_risk"],
    "replenishment_cycles": ["category", "cycle_days"],
}


def _settings(target: str, warehouse: Path, root: Path, url: str | None):
    return target_settings(target, warehouse, root, url).model_copy(update={
        "reporting_tz": "America/New_York", "exports": root / target / "exports",
    })


def _first_phase(settings) -> None:
    """Every model but activation (and the seeds), as the daily job's first dbt step."""
    load_raw_into_target(settings)
    dbt(["build", "--exclude", "tag:after_predictions", "--exclude-resource-type", "test"],
        settings.warehouse, settings.dbt_vars(AS_OF), env=dbt_target_env(settings))


def _days(settings) -> tuple[dict, dict]:
    """The two activation days: the tables after day 2 (the log holds both days) and the export
    files of both days, by relative path."""
    files = {}
    for day in DAYS:
        dbt(["build", "--select", "tag:after_predictions"], settings.warehouse,
            settings.dbt_vars(day), env=dbt_target_env(settings))
        folder = exports.write_exports(settings, day, settings.exports).folder
        files |= {f"{day}/{p.relative_to(folder)}": p.read_bytes()
                  for p in sorted(folder.rglob("*")) if p.is_file()}
    return {table: read_mart(settings, table) for table in TABLES}, files


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop ingested once, built and decided on DuckDB with the real prediction fits."""
    from retention_pipeline.predictions.cycles import build_replenishment_cycles
    from retention_pipeline.predictions.model_runs import fit_models, write_model_fit
    from retention_pipeline.predictions.scoring import score_customers

    root = tmp_path_factory.mktemp("activation_targets")
    generate_shop(root / "landing", 2000, seed=11, end=AS_OF)
    warehouse = root / "warehouse.duckdb"
    ingest(root / "landing", warehouse, AS_OF)
    settings = _settings("duckdb", warehouse, root, None)
    _first_phase(settings)
    with connect(warehouse, settings=settings) as con:
        write_model_fit(con, fit_models(con, AS_OF, settings))
        score_customers(con, AS_OF, settings)
        build_replenishment_cycles(con, AS_OF, settings.cycle_min_samples)
        python_marts = {table: con.sql(f"select {', '.join(columns)} from marts.{table}")
                        .to_arrow_table() for table, columns in PYTHON_MARTS.items()}
    tables, files = _days(settings)
    return root, warehouse, python_marts, tables, files


def test_the_duckdb_reference_has_something_to_compare(shop):
    _, _, python_marts, tables, files = shop
    candidates, log = tables["campaign_candidates"], tables["contact_log"]
    assert python_marts["customer_predictions"].num_rows > 1000
    assert python_marts["replenishment_cycles"].num_rows > 0
    assert set(candidates["state"]) == {"queued", "holdout", "suppressed"}
    assert candidates["campaign"].nunique() >= 4
    assert sorted(set(log["as_of_date"])) == list(DAYS)
    assert len(tables["segment_members"]) > 1000 and len(tables["campaign_lift"]) > 0
    manifest = json.loads(files[f"{DAYS[1]}/manifest.json"])
    assert sum(f["rows"] for path, f in manifest["files"].items()
               if path.startswith("campaigns/")) > 0


@pytest.fixture(scope="module", params=["postgres", pytest.param("spark", marks=pytest.mark.spark)])
def other_target(request, shop):
    root, warehouse, python_marts, _, _ = shop
    if request.param == "spark" and (reason := spark_missing()):
        pytest.skip(f"local Spark unavailable: {reason}")
    if request.param == "postgres":
        with fresh_pg_database() as url:
            settings = _settings("postgres", warehouse, root, url)
            _first_phase(settings)
            _put_postgres(url, python_marts)
            yield "postgres", *_days(settings)
    else:
        settings = _settings("spark", warehouse, root, None)
        _first_phase(settings)
        _put_spark(Path(settings.lake), root, python_marts)
        yield "spark", *_days(settings)


def test_activation_tables_are_identical_on_every_target(shop, other_target):
    reference = shop[3]
    target, tables, _ = other_target
    problems = [problem for name, expected in reference.items()
                if (problem := _difference(name, tables[name], expected))]
    assert not problems, f"activation tables that differ on {target}:\n" + "\n".join(problems)


def test_export_files_are_byte_identical_on_every_target(shop, other_target):
    reference = shop[4]
    target, _, files = other_target
    assert sorted(files) == sorted(reference)
    differ = [path for path in reference if files[path] != reference[path]]
    assert not differ, f"export files that differ on {target}: {differ}"


def _put_postgres(url: str, tables: dict[str, pa.Table]) -> None:
    """The prediction fits' tables in PostgreSQL's marts, as the pipeline would write them."""
    import psycopg

    types = {pa.string(): "text", pa.float64(): "double precision"}
    with psycopg.connect(url) as pg:
        pg.execute("create schema if not exists marts")
        for name, table in tables.items():
            columns = ", ".join(f"{f.name} {types[f.type]}" for f in table.schema)
            pg.execute(f"create table marts.{name} ({columns})")
            with pg.cursor().copy(f"copy marts.{name} from stdin") as copy:
                for row in table.to_pylist():
                    copy.write_row(list(row.values()))


def _put_spark(lake: Path, root: Path, tables: dict[str, pa.Table]) -> None:
    """The same tables as Spark tables of database marts, written by a Spark session of its own
    that ends before dbt starts (the lake's Derby metastore takes one process at a time)."""
    folder = root / "python_marts"
    folder.mkdir(exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    script = textwrap.dedent(f"""
        from pyspark.sql import SparkSession
        lake = {str(lake.resolve())!r}
        spark = (SparkSession.builder.master("local[1]")
                 .config("spark.sql.warehouse.dir", lake + "/warehouse")
                 .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                         "jdbc:derby:;databaseName=" + lake + "/metastore_db;create=true")
                 .config("spark.driver.extraJavaOptions", "-Dderby.system.home=" + lake)
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.legacy.createHiveTableByDefault", "false")
                 .config("spark.ui.enabled", "false")
                 .enableHiveSupport().getOrCreate())
        spark.sql("create database if not exists marts")
        for name in {sorted(tables)!r}:
            spark.read.parquet({str(folder)!r} + "/" + name + ".parquet") \\
                .write.mode("overwrite").format("parquet").saveAsTable("marts." + name)
        spark.stop()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
