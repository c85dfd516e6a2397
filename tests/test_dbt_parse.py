"""dbt parses the project only when it changed, and a run's values reach the models through the
environment without a new parse (retention_pipeline/dbt_parse.py, docs/operations.md#incremental-runs).

Real dbt on a copy of the project (so the shared target folder is not touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster_dbt import DbtProject

from retention_pipeline.assets.dbt import prepare_manifest
from retention_pipeline.dbt_parse import RUN_VARS_ENV, manifest_key, run_vars_env
from retention_pipeline.paths import DBT_PROJECT_DIR


@pytest.fixture
def project(tmp_path, monkeypatch) -> DbtProject:
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setenv("RETENTION_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv(RUN_VARS_ENV, raising=False)
    return DbtProject(project_dir=copy, profiles_dir=copy)


def test_manifest_key_follows_the_project_and_the_profile_env_not_the_run_values(project):
    folder = Path(project.project_dir)
    env = {"RETENTION_WAREHOUSE": "/a/w.duckdb"}
    key = manifest_key(folder, env)
    assert manifest_key(folder, {**env, **run_vars_env({"as_of": "2026-01-02"})}) == key
    assert manifest_key(folder, {**env, "RETENTION_AS_OF": "2026-01-02"}) == key  # not read by dbt
    assert manifest_key(folder, {"RETENTION_WAREHOUSE": "/b/w.duckdb"}) != key
    assert manifest_key(folder, {**env, "DBT_DUCKDB_MEMORY_LIMIT": "3GB"}) != key
    model = folder / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert manifest_key(folder, env) != key


@pytest.mark.slow  # three real dbt invocations (~10-30 s each on a busy machine)
def test_parse_runs_once_per_content_and_run_values_reuse_it(project):
    target = Path(project.project_dir) / "target"
    prepare_manifest(project)
    manifest = target / "manifest.json"
    first = manifest.stat().st_mtime_ns
    prepare_manifest(project)  # nothing changed: no dbt parse
    assert manifest.stat().st_mtime_ns == first

    # The day's values through the env: the saved parse is reused (no full re-parse) and the
    # models see them.
    env = {**os.environ, **run_vars_env({"as_of": "2026-03-04", "reporting_tz": "Europe/Berlin"})}
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "show", "--inline",
         "select {{ as_of_date() }} as as_of, {{ reporting_tz() }} as tz",
         "--project-dir", project.project_dir, "--profiles-dir", str(project.profiles_dir),
         "--target-path", str(target), "--log-path", str(target.parent / "show_logs")],
        env=env, capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stdout[-3000:]
    assert "2026-03-04" in shown.stdout and "Europe/Berlin" in shown.stdout
    log = (target.parent / "show_logs" / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log, log[-3000:]

    model = Path(project.project_dir) / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    prepare_manifest(project)  # the project changed: parsed again
    assert manifest.stat().st_mtime_ns != first


# Project vars a user may set in dbt_project.yml (not run values, so `var` is right for them).
PROJECT_VARS = {"repurchase_windows"}


def test_models_read_the_run_values_through_run_var():
    """The pipeline passes the run's values in RETENTION_DBT_RUN_VARS, not `--vars`: a model or
    macro reading them with `var('as_of')` would silently get the default (today) in a Dagster
    run. Every `var('<name>')` must be a project var; run values go through `run_var`."""
    import re

    pattern = re.compile(r"(?<![\w.])var\(\s*['\"](\w+)['\"]")
    offenders = []
    for folder in ("models", "macros", "tests", "analyses", "snapshots"):
        for path in sorted((DBT_PROJECT_DIR / folder).rglob("*.sql")):
            for name in pattern.findall(path.read_text()):
                if name not in PROJECT_VARS:
                    offenders.append(f"{path.relative_to(DBT_PROJECT_DIR)}: var('{name}')")
    assert not offenders, "use run_var(...) (macros/run_vars.sql) for: " + "; ".join(offenders)


@pytest.mark.slow  # two real dbt parses
def test_a_reader_never_sees_a_missing_or_half_written_manifest_during_a_parse(project):
    """Test workers, `dagster dev` and a CLI run read target/manifest.json without the parse
    lock: a parse writes aside and moves the files into place, so a reader finds the old manifest
    or the new one, whole."""
    import json
    import threading

    target = Path(project.project_dir) / "target"
    prepare_manifest(project)
    manifest, saved = target / "manifest.json", target / "partial_parse.msgpack"
    done, torn = threading.Event(), []
    parsing = threading.Thread(
        target=lambda: (prepare_manifest(project, force=True), done.set()), daemon=True)
    parsing.start()
    while not done.is_set():
        try:
            text = manifest.read_bytes()
            size = saved.stat().st_size
        except FileNotFoundError as missing:
            torn.append(f"missing: {missing.filename}")
            continue
        if not (text.startswith(b"{") and text.rstrip().endswith(b"}")) or size == 0:
            torn.append(f"manifest of {len(text)} bytes, partial parse of {size}")
    parsing.join()
    assert not torn, torn[:5]
    assert json.loads(manifest.read_text())["metadata"]["dbt_schema_version"]
    assert not list(target.glob(".parse-*"))  # the parse's own folder is gone
