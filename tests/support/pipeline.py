"""Test helpers that build a real warehouse: real ingestion, real `dbt build`, real DuckDB.

Faster than a full Dagster run for fixture tests; the Dagster path is covered by test_pipeline_e2e.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.warehouse import connect

ENTITIES = ("customers", "products", "orders", "order_items", "events")


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    """A landing CSV from a header line and data lines (strings, as a shop would send them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def ingest(landing: Path, warehouse: Path, batch_date: dt.date) -> dict:
    from retention_pipeline.ingestion import discover_landing, ingest_entity

    found = discover_landing(landing)
    stats = {}
    with connect(warehouse) as con:
        for entity in ENTITIES:
            stats[entity] = ingest_entity(con, found, entity, batch_date)
    return stats


def dbt(args: list[str], warehouse: Path, dbt_vars: dict,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` on the warehouse; `env` adds variables (e.g. another target's, see
    retention_pipeline.targets.dbt_target_env)."""
    env = {**os.environ, "RETENTION_WAREHOUSE": str(Path(warehouse).resolve()), **(env or {})}
    cmd = [
        str(Path(sys.executable).with_name("dbt")), *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(Path(warehouse).parent / "dbt_target"),
        "--log-path", str(Path(warehouse).parent / "dbt_logs"),
        "--vars", json.dumps(dbt_vars),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return result


def build_warehouse(
    landing: Path,
    warehouse: Path,
    as_of: dt.date,
    reporting_tz: str = "UTC",
    min_order_value: float = 0,
    select: str | None = None,
    exclude: str | None = None,
) -> Path:
    """Ingest the landing folder and `dbt build` (models + tests) for one as-of date."""
    ingest(landing, warehouse, as_of)
    args = ["build"] + (["--select", select] if select else []) + (
        ["--exclude", exclude] if exclude else [])
    dbt(args, warehouse, {"as_of": as_of.isoformat(), "reporting_tz": reporting_tz,
                          "min_order_value": min_order_value})
    return warehouse


def query(warehouse: Path, sql: str):
    """Rows of a query as a pandas DataFrame, on a read-only connection that is closed at once."""
    with connect(warehouse, read_only=True) as con:
        return con.execute(sql).df()
