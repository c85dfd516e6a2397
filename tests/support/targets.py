"""Building the dbt models on each dbt target (DuckDB, PostgreSQL, local Spark) and reading a mart
back from it: the cross-target tests compare what every engine computes."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from retention_pipeline.settings import Settings
from retention_pipeline.targets import dbt_target_env, load_raw_into_target
from retention_pipeline.targets.read import read_table, table_exists
from tests.support.pipeline import dbt

# Spark's tests carry their own mark (`-m "not spark"` leaves them out: a JVM start each).
TARGETS = ("duckdb", "postgres", pytest.param("spark", marks=pytest.mark.spark))


def spark_missing() -> str | None:
    """Why local Spark cannot run here (None: it can)."""
    if shutil.which("java") is None:
        return "java is not installed (make java installs openjdk-17-jre-headless)"
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        return "pyspark/dbt-spark are not installed (pip install -e '.[spark]')"
    probe = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"java does not start: {probe.stderr.strip()[:200]}"
    return None


def target_settings(target: str, warehouse: Path, root: Path, pg_url: str | None) -> Settings:
    return Settings(warehouse=warehouse, dbt_target=target, warehouse_url=pg_url,
                    lake=root / "lake", duckdb_threads=2)


def build_on(settings: Settings, dbt_vars: dict, select: str | None = None,
             run_only: bool = False) -> float:
    """Load the raw rows into the target and `dbt build` there (seeds and models only when
    run_only: one dbt process, one Spark start); seconds taken by dbt."""
    load_raw_into_target(settings)
    args = ["build"]
    if select:
        # cautious: the tests of the selected models that read only selected models
        args += ["--select", select, "--indirect-selection", "cautious"]
    if run_only:
        args += ["--exclude-resource-type", "test"]
    started = time.monotonic()
    dbt(args, settings.warehouse, dbt_vars, env=dbt_target_env(settings))
    return time.monotonic() - started


def read_mart(settings: Settings, table: str) -> pd.DataFrame:
    """Every row of marts.<table> as the target holds it, through the pipeline's own reader."""
    if not table_exists(settings, "marts", table):
        pytest.fail(f"{settings.dbt_target} built no table marts.{table}")
    return _normalized(read_table(settings, "marts", table).to_pandas())


def _normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime.date and decimals as floats, whatever the driver returned."""
    for column in frame.columns:
        if column.endswith(("_start", "_date")):
            frame[column] = pd.to_datetime(frame[column]).dt.date
        elif frame[column].dtype == object and frame[column].map(
                lambda v: type(v).__name__ == "Decimal").any():
            frame[column] = frame[column].astype(float)
    return frame
