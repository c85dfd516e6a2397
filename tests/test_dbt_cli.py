"""The dbt CLI resource starts dbt without dagster-dbt's `dbt --version` subprocess and without
building a dbt adapter inside Dagster's process (retention_pipeline/dbt_cli.py). Real dbt."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import dagster_dbt.core.resource as dagster_dbt_resource
import pytest
from dagster_dbt import DbtProject
from packaging import version

from retention_pipeline.dbt_cli import PipelineDbtCliResource, dbt_resource
from retention_pipeline.paths import DBT_PROJECT_DIR


@pytest.fixture
def no_subprocess(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", refuse)


def test_the_version_is_the_installed_dbt_core_without_running_dbt(no_subprocess):
    resource = dbt_resource(DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR))
    assert resource._cli_version == version.parse(metadata.version("dbt-core"))


def test_another_dbt_is_asked_for_its_version(monkeypatch, tmp_path):
    asked = []

    def fake_dbt(command):
        asked.append(command)
        return b"Core:\n  - installed: 1.99.3\n"

    monkeypatch.setattr(dagster_dbt_resource, "check_output", fake_dbt)
    other = tmp_path / "bin" / "dbt"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    resource = PipelineDbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(other))
    assert resource._cli_version == version.parse("1.99.3")
    assert asked == [[str(other), "--version"]]


def test_a_dbt_invocation_builds_no_adapter_in_dagsters_process(tmp_path):
    resource = dbt_resource(DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR))
    invocation = resource.cli(["debug", "--config-dir"], target_path=tmp_path / "target")
    invocation.wait()
    assert invocation.is_successful()
    # dagster-dbt's own resource would hold a DuckDBAdapter here (1.2 s of macro loading)
    assert invocation.adapter is None
    assert Path(resource.dbt_executable).name == "dbt"
