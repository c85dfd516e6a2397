"""Bounded memory: the duckdb_* settings reach every DuckDB connection, the pipeline's and dbt's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect, dbt_duckdb_env, open_duckdb

SETTINGS_SQL = (
    "select current_setting('memory_limit') as memory_limit, "
    "cast(current_setting('threads') as varchar) as threads, current_setting('temp_directory') as temp_directory"
)


def as_duckdb_shows(memory_limit: str) -> str:
    """DuckDB reports a limit in its own units ('1GB' -> '953.6 MiB')."""
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_settings_from_env_and_config_file(tmp_path, monkeypatch):
    config = tmp_path / "retention.toml"
    config.write_text('[retention]\nduckdb_memory_limit = "3GB"\nduckdb_threads = 3\n')
    monkeypatch.setenv("RETENTION_DUCKDB_THREADS", "1")
    monkeypatch.setenv("RETENTION_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    settings = load_settings(config=config)
    assert settings.duckdb_memory_limit == "3GB"  # file
    assert settings.duckdb_threads == 1  # env over file
    assert settings.effective_duckdb_temp_directory == tmp_path / "spill"


def test_defaults_spill_beside_the_warehouse(tmp_path, monkeypatch):
    for name in ("MEMORY_LIMIT", "THREADS", "TEMP_DIRECTORY"):
        monkeypatch.delenv(f"RETENTION_DUCKDB_{name}", raising=False)
    settings = load_settings(warehouse=tmp_path / "w.duckdb")
    assert settings.duckdb_memory_limit == "6GB"
    assert settings.duckdb_threads == (os.cpu_count() or 2)
    assert settings.effective_duckdb_temp_directory == tmp_path / "duckdb_tmp"


def test_pipeline_connections_apply_the_settings(tmp_path):
    settings = load_settings(
        warehouse=tmp_path / "w.duckdb", duckdb_memory_limit="1GB", duckdb_threads=1,
        duckdb_temp_directory=tmp_path / "spill",
    )
    expected = (as_duckdb_shows("1GB"), "1", str((tmp_path / "spill").resolve()))
    with connect(settings.warehouse, settings=settings) as con:
        assert con.execute(SETTINGS_SQL).fetchone() == expected
        assert con.execute("select current_setting('TimeZone')").fetchone()[0] == "UTC"
    with connect(settings.warehouse, read_only=True, settings=settings) as con:
        assert con.execute(SETTINGS_SQL).fetchone() == expected
    with open_duckdb(settings=settings) as con:  # the in-memory ones of serving
        assert con.execute(SETTINGS_SQL).fetchone() == expected
    assert (tmp_path / "spill").is_dir()


def test_a_pipeline_process_draws_no_progress_bar(tmp_path):
    # DuckDB draws one into stdout once a query runs past 2 s, unless stdout is pytest's capture:
    # hence a process of its own, as a Dagster step is (a slow query drew one into a child's stats).
    child = ("from retention_pipeline.warehouse import open_duckdb\n"
             "print(open_duckdb().execute(\"select current_setting('enable_progress_bar')\").fetchone()[0])")
    shown = subprocess.run([sys.executable, "-c", child],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    assert shown.stdout.strip() == "False"


def test_a_connection_without_settings_at_hand_gets_the_deployments(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("RETENTION_DUCKDB_THREADS", "1")
    monkeypatch.setenv("RETENTION_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    with connect(tmp_path / "w.duckdb") as con:
        limit, threads, _ = con.execute(SETTINGS_SQL).fetchone()
    assert (limit, threads) == (as_duckdb_shows("512MB"), "1")


def test_dbt_connection_applies_the_settings(tmp_path):
    settings = load_settings(
        warehouse=tmp_path / "w.duckdb", duckdb_memory_limit="1GB", duckdb_threads=1,
        duckdb_temp_directory=tmp_path / "spill",
    )
    # what the Dagster dbt asset puts in dbt's environment
    env = {**os.environ, "RETENTION_WAREHOUSE": str(settings.warehouse.resolve()),
           **dbt_duckdb_env(settings)}
    cmd = [
        str(Path(sys.executable).with_name("dbt")), "show", "--inline", SETTINGS_SQL,
        "--output", "json", "--log-format", "json",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs"),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    rows = _shown_rows(result.stdout)
    assert rows == [{
        "memory_limit": as_duckdb_shows("1GB"), "threads": "1",
        "temp_directory": str((tmp_path / "spill").resolve()),
    }]
    # and dbt runs as many models at once as DuckDB has threads (the profile said 4 before)
    assert _dbt_threads(result.stdout) == 1


def test_dbt_models_after_a_spill_still_run(tmp_path):
    """dbt opens a cursor per model; the project's profile must not set the spill folder on each
    (DuckDB refuses once something spilled there, which failed every model of a §8-scale build
    after the first large sort). A model spilling through 64 MB, then two more models."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "profiles.yml").write_text((DBT_PROJECT_DIR / "profiles.yml").read_text())
    (project / "dbt_project.yml").write_text(
        "name: spill\nversion: '1.0'\nprofile: retention\nmodels:\n  +materialized: table\n")
    (project / "models" / "sorted_big.sql").write_text(
        "select range as i, md5(cast(range as varchar)) as s from range(3000000) order by s")
    (project / "models" / "counted.sql").write_text(
        "select count(*) as n from {{ ref('sorted_big') }}")
    (project / "models" / "grouped.sql").write_text(
        "select count(distinct s) as n from {{ ref('sorted_big') }}")
    settings = load_settings(
        warehouse=tmp_path / "w.duckdb", duckdb_memory_limit="64MB", duckdb_threads=1,
        duckdb_temp_directory=tmp_path / "spill",
    )
    env = {**os.environ, "RETENTION_WAREHOUSE": str(settings.warehouse.resolve()),
           **dbt_duckdb_env(settings)}
    env.pop("RETENTION_DBT_TARGET", None)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--threads", "1",
         "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env, capture_output=True, text=True, check=False, cwd=project,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select n from main.counted").fetchone()[0] == 3_000_000
        assert con.execute("select n from main.grouped").fetchone()[0] == 3_000_000


def _dbt_threads(stdout: str) -> int | None:
    """The thread count dbt's JSON log reports (event ConcurrencyLine)."""
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("info", {}).get("name") == "ConcurrencyLine":
            return event["data"]["num_threads"]
    return None


def _shown_rows(stdout: str) -> list[dict]:
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        preview = event.get("data", {}).get("preview")
        if preview:
            return json.loads(preview)
    raise AssertionError(f"no preview in dbt's output:\n{stdout[-4000:]}")


def test_a_connection_without_settings_survives_a_dbt_steps_environment(monkeypatch):
    """A dbt step exports RETENTION_DBT_TARGET for its profile (not the target's URL); a DuckDB
    connection opened afterwards without settings (serving log, copies) still gets its limits."""
    from retention_pipeline.warehouse import open_duckdb

    monkeypatch.setenv("RETENTION_DBT_TARGET", "postgres")
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "1GB")
    con = open_duckdb()
    try:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert limit in ("1.0 GiB", "953.6 MiB", "1 GiB")
