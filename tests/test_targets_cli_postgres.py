"""`retention run` (the CLI) with dbt_target = postgres on a small generated shop exits 0: every
mart, the predictions, the history and the campaign tables included, is left in PostgreSQL (its
own database on the local server), nothing of them in the DuckDB warehouse (which keeps raw,
quarantine and the logs), and the exports and the serving file are written from PostgreSQL's."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retention_pipeline.generator import generate_shop
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.serving.duckdb_file import duckdb_file_counts
from retention_pipeline.warehouse import connect
from tests.support.serving_fixtures import fresh_pg_database

pytestmark = pytest.mark.slow

AS_OF = "2026-11-20"
PYTHON_MARTS = {"model_fit", "model_backtest", "prediction_scores"}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    import psycopg

    root = tmp_path_factory.mktemp("cli_postgres")
    generate_shop(root / "landing", customers=1000, seed=3, end=dt.date.fromisoformat(AS_OF))
    with fresh_pg_database() as url:
        env = {**os.environ, "RETENTION_DBT_TARGET": "postgres", "RETENTION_WAREHOUSE_URL": url,
               "RETENTION_DUCKDB_MEMORY_LIMIT": "2GB", "DAGSTER_HOME": str(root / "home")}
        result = subprocess.run(
            [str(Path(sys.executable).with_name("retention")), "run", "--as-of", AS_OF,
             "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse.duckdb"),
             "--exports", str(root / "exports"), "--serving", str(root / "serving.duckdb")],
            env=env, capture_output=True, text=True, check=False, timeout=1800,
        )
        with psycopg.connect(url) as pg:
            tables = {name: pg.execute(f'select count(*) from marts."{name}"').fetchone()[0]
                      for (name,) in pg.execute(
                          "select table_name from information_schema.tables "
                          "where table_schema = 'marts'").fetchall()}
            buyers = pg.execute("select count(distinct customer_id) "
                                "from intermediate.int_purchase_occasions").fetchone()[0]
            history_days = pg.execute("select count(distinct as_of_date) "
                                      "from marts.dim_customers_history").fetchone()[0]
            queued = pg.execute("select count(*) from marts.campaign_candidates "
                                "where state = 'queued'").fetchone()[0]
            unscored = pg.execute("""
                select count(*) from marts.customer_predictions as c
                inner join intermediate.int_prediction_histories as h
                    on h.customer_id = c.customer_id and h.period = 'as_of'
                left join marts.prediction_scores as s
                    on s.x = h.x and s.t_x_days = h.t_x_days and s.t_days = h.t_days
                where s.p_alive is distinct from c.p_alive
                   or s.model is distinct from c.model""").fetchone()[0]
    with connect(root / "warehouse.duckdb", read_only=True) as con:
        duckdb_marts = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()}
    return result, tables, buyers, history_days, unscored, duckdb_marts, root, queued


def _dbt_marts() -> set[str]:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    return {node["name"] for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["schema"] == "marts"
            and node["config"]["materialized"] != "ephemeral"}


def test_every_mart_predictions_and_history_included_is_in_postgres(cli_run):
    result, tables, buyers, history_days, unscored, duckdb_marts, _, _ = cli_run
    expected = _dbt_marts() | PYTHON_MARTS
    assert {"customer_predictions", "dim_customers_history", "segment_migration",
            "replenishment_cycles", "fct_orders", "campaign_candidates", "contact_log",
            "segment_members", "campaign_lift"} <= expected
    assert expected <= set(tables), (
        f"missing in PostgreSQL: {sorted(expected - set(tables))}\n{result.stdout[-3000:]}")
    # every buyer scored and snapshotted, each with the scores of its history
    assert tables["customer_predictions"] == buyers == tables["dim_customers_history"] > 500
    assert unscored == 0 and history_days == 1
    assert tables["model_fit"] >= 11 and tables["model_backtest"] > 0
    assert tables["replenishment_cycles"] > 0
    # the DuckDB warehouse holds none of them: the later steps read the target
    assert not (expected & duckdb_marts), sorted(expected & duckdb_marts)


def test_the_run_exits_0_with_exports_and_serving_from_postgres(cli_run):
    result, tables = cli_run[0], cli_run[1]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    root = Path(cli_run[6])
    sends = sum(len(p.read_text().splitlines()) - 1
                for p in (root / "exports" / AS_OF / "campaigns").glob("*.csv"))
    queued = cli_run[7]
    assert sends == queued > 0
    served = duckdb_file_counts(root / "serving.duckdb")
    assert served["campaign_candidates"] == tables["campaign_candidates"]
    assert served["customer_predictions"] == tables["customer_predictions"]
