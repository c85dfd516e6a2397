"""Shared fixtures. Tests use real DuckDB files, a real dbt, a real Dagster, in temporary folders."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_settings_env(monkeypatch, tmp_path_factory):
    """No RETENTION_* variable or ./retention.toml of the developer leaks into a test."""
    for name in list(os.environ):
        if name.startswith("RETENTION_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
    yield
