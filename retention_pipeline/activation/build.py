"""The activation dbt build outside Dagster (tests, scripts): `dbt build` of the activation models
(dbt_project/models/activation, part of the second dbt phase) on the settings' dbt target, in
this process. They read customer_predictions and replenishment_cycles, which the rest of the
pipeline has built before.

The project is parsed once per process and the parsed manifest reused by every build (its nodes'
compiled state reset each time: dbt injects the ephemeral models' CTEs only into nodes not yet
marked), so a build costs its queries, not a parse; the settings reach the models as vars
(Settings.dbt_vars). Dagster runs the same selection through dagster-dbt
(assets/dbt.py, `dbt_after_predictions`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import Settings

SELECTION = "path:models/activation"
# The blocking checks: dbt tests of campaign_candidates (dbt_project/tests/activation/<name>.sql).
CHECKS_DIR = DBT_PROJECT_DIR / "tests" / "activation"
CHECK_NAMES = tuple(sorted(p.stem for p in CHECKS_DIR.glob("*.sql")))

_manifests: dict[tuple, object] = {}
# dbt runs in this process with process-wide state (flags, adapters, the environment profiles.yml
# reads): one build at a time, whatever thread asks.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    name: str
    resource_type: str  # model, test
    status: str  # success, pass, fail, error, skipped
    failures: int | None
    message: str


@dataclass(frozen=True)
class BuildResult:
    nodes: tuple[NodeResult, ...]

    @property
    def failed_checks(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.name in CHECK_NAMES and n.status in ("fail", "error")]

    def status(self, name: str) -> str:
        return next(n.status for n in self.nodes if n.name == name)


class ActivationBuildError(RuntimeError):
    """The activation build failed: a blocking check or a model. Nothing was logged for the day."""

    def __init__(self, result: BuildResult):
        self.result = result
        failed = [n for n in result.nodes if n.status in ("fail", "error")]
        super().__init__("activation build failed: " + "; ".join(
            f"{n.name} ({n.status}, {n.failures or 0} rows) {n.message}"[:500] for n in failed))


def build_activation(settings: Settings, as_of: dt.date, command: str = "build",
                     select: str = SELECTION, raise_on_failure: bool = True) -> BuildResult:
    """`dbt <command> --select <select>` for the as-of date on the settings' target."""
    with _LOCK:
        return _build(settings, as_of, command, select, raise_on_failure)


def _build(settings: Settings, as_of: dt.date, command: str, select: str,
           raise_on_failure: bool) -> BuildResult:
    from dbt.cli.main import dbtRunner

    _set_environment(settings)
    target_path = Path(settings.warehouse).resolve().parent / "dbt_activation_target"
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
              "--target-path", str(target_path), "--log-path", str(target_path / "logs"),
              "--quiet"]
    # nodes carry the target's database name (DuckDB: the file's stem), so a manifest per target
    manifest = _manifest((settings.dbt_target, Path(settings.warehouse).stem,
                          settings.warehouse_url), common)
    try:
        outcome = dbtRunner(manifest=_fresh(manifest)).invoke(
            [command, "--select", select, "--vars", json.dumps(settings.dbt_vars(as_of)), *common]
        )
    finally:
        _release_duckdb()
    if outcome.exception is not None:
        raise outcome.exception
    result = BuildResult(tuple(
        NodeResult(r.node.name, r.node.resource_type, str(r.status), r.failures, r.message or "")
        for r in outcome.result.results
    ))
    if raise_on_failure and not outcome.success:
        raise ActivationBuildError(result)
    return result


def _manifest(key: tuple, common: list[str]):
    if key not in _manifests:
        from dbt.cli.main import dbtRunner

        parsed = dbtRunner().invoke(["parse", *common])
        if not parsed.success:
            raise RuntimeError(f"dbt parse failed: {parsed.exception}")
        _manifests[key] = parsed.result
    return _manifests[key]


def _fresh(manifest):
    for node in manifest.nodes.values():
        if node.resource_type in ("model", "test"):
            node.extra_ctes_injected = False
            node.extra_ctes = []
    return manifest


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the process's next invocation; the pipeline's own
    connections (with other settings) could not open the file while it does, so close it."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def _set_environment(settings: Settings) -> None:
    """profiles.yml reads the warehouse, the DuckDB limits and the target from the environment."""
    from retention_pipeline.targets import dbt_target_env
    from retention_pipeline.warehouse import dbt_duckdb_env

    os.environ["RETENTION_WAREHOUSE"] = str(Path(settings.warehouse).resolve())
    os.environ.update(dbt_duckdb_env(settings))
    os.environ.update(dbt_target_env(settings))
