"""Shared fixtures. Tests use real DuckDB files, a real dbt, a real Dagster, in temporary folders."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _worker_default_paths(tmp_path_factory):
    """Session and module fixtures are set up before each test's own isolation (below): the
    default paths of their settings go to this test process's own folder, not to data/."""
    with pytest.MonkeyPatch.context() as patch:
        _own_default_paths(patch, tmp_path_factory.mktemp("worker_default_paths"))
        yield


@pytest.fixture(autouse=True)
def _isolated_settings_env(monkeypatch, tmp_path_factory):
    """No RETENTION_* variable or ./retention.toml of the developer leaks into a test, and no
    test writes into the repository's data/ folder."""
    for name in list(os.environ):
        if name.startswith("RETENTION_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
    # A path a test leaves at its default is relative to the repository (data/...): `make test`
    # runs two tests at once, which then replaced one serving copy together (a run failed on
    # the other's temp file) and queued in one Dagster home. Each test gets its own.
    _own_default_paths(monkeypatch, tmp_path_factory.mktemp("default_paths"))
    yield
    # The pipeline hands dbt its settings through os.environ (RETENTION_DBT_TARGET, the
    # warehouse ...), which monkeypatch does not undo. Left set, they would reach the next
    # session fixture (set up before this isolation): a shared sample run on the Spark target.
    for name in list(os.environ):
        if name.startswith("RETENTION_"):
            del os.environ[name]


def _own_default_paths(patch: pytest.MonkeyPatch, folder) -> None:
    patch.setenv("RETENTION_SERVING", str(folder / "serving.duckdb"))
    patch.setenv("RETENTION_DAGSTER_HOME", str(folder / "dagster_home"))


@pytest.fixture(params=["whole", "sliced"])
def ingestion_slices(request, monkeypatch):
    """The ingestion tests run twice: each chunk checked as one slice, and cut into slices of two
    rows (how load.py reads a file of millions of rows). Rows, quarantine records, counts and
    errors must not depend on where the slices fall."""
    if request.param == "sliced":
        monkeypatch.setattr("retention_pipeline.ingestion.load.SLICE_ROWS", 2)
    return request.param


SAMPLE_AS_OF = "2026-11-20"


@pytest.fixture(scope="session")
def sample_shop_run(tmp_path_factory):
    """One full Dagster run of every asset on a generated 5,000-customer shop, shared read-only
    by the end-to-end tests (a run takes about a minute; CI runs it once)."""
    import datetime as dt
    from types import SimpleNamespace

    from retention_pipeline.generator import generate_shop
    from retention_pipeline.runner import run_pipeline
    from retention_pipeline.settings import load_settings

    root = tmp_path_factory.mktemp("sample_shop")
    as_of = dt.date.fromisoformat(SAMPLE_AS_OF)
    generate_shop(root / "landing", customers=5000, seed=42, end=as_of)
    settings = load_settings(
        landing=root / "landing",
        warehouse=root / "warehouse.duckdb",
        exports=root / "exports",
        dagster_home=root / "dagster_home",
        serving=root / "serving.duckdb",
        as_of=as_of,
        reporting_tz="Europe/Berlin",
    )
    outcome = run_pipeline(settings)
    return SimpleNamespace(settings=settings, outcome=outcome, root=root, as_of=as_of)
