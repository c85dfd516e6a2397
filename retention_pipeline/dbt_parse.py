"""Parsing the dbt project only when it changed, and passing a run's values without re-parsing
(docs/operations.md#incremental-runs).

dbt parses the whole project (tens of seconds on a busy small machine) whenever it has no saved
parse (`target/partial_parse.msgpack`) it can reuse, and it cannot reuse one when the
command-line `--vars`, the profile's env vars or the connection differ from the saved parse's.
So:
- the manifest is made once per *content*: the project's files, the dbt version and the env vars
  the profile reads are hashed into `target/manifest_key.json`; `dbt parse` runs only when the key
  differs (or the manifest is missing);
- a run's values (as-of date, reporting time zone, minimum order value, incremental watermarks)
  travel in the env var `RETENTION_DBT_RUN_VARS`, read by the `run_var` macro only while dbt
  executes, so the day's `dbt build` reuses the saved parse.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from importlib.metadata import version
from pathlib import Path

RUN_VARS_ENV = "RETENTION_DBT_RUN_VARS"
KEY_FILE = "manifest_key.json"
# Folders and files of the project that change what dbt parses.
_PARSED = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests",
           "analyses", "snapshots")
_ENV_VAR_CALL = re.compile(r"env_var\(\s*['\"]([A-Za-z0-9_]+)['\"]")


def run_vars_env(run_vars: dict) -> dict[str, str]:
    """The environment entry that carries a run's values to the `run_var` macro."""
    return {RUN_VARS_ENV: json.dumps(run_vars, sort_keys=True, default=str)}


def dbt_env(settings) -> dict[str, str]:
    """The env vars a dbt invocation of these settings runs with (profiles.yml reads them)."""
    from retention_pipeline.targets import dbt_target_env
    from retention_pipeline.warehouse import dbt_duckdb_env

    return {"RETENTION_WAREHOUSE": str(settings.warehouse.resolve()),
            **dbt_duckdb_env(settings), **dbt_target_env(settings)}


def manifest_key(project_dir: Path, environ: dict[str, str]) -> str:
    """What a saved parse depends on: every parsed file, dbt's version, the profile's env vars."""
    digest = hashlib.sha256()
    digest.update(f"dbt-core {version('dbt-core')}\n".encode())
    # The env vars the profile and the project read: dbt keeps their values in its saved parse.
    # (Hashed, never stored: PGPASSWORD is one of them.)
    read = set()
    for name in ("profiles.yml", "dbt_project.yml"):
        if (project_dir / name).exists():
            read |= set(_ENV_VAR_CALL.findall((project_dir / name).read_text()))
    for name in sorted(read - {RUN_VARS_ENV}):
        digest.update(f"{name}={environ.get(name)}\n".encode())
    for entry in _PARSED:
        path = project_dir / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(file.relative_to(project_dir).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()


def parse_is_current(target_dir: Path, key: str) -> bool:
    """The manifest and the saved parse in `target_dir` were made from exactly this content."""
    key_file = target_dir / KEY_FILE
    if not all((target_dir / name).exists()
               for name in ("manifest.json", "partial_parse.msgpack", KEY_FILE)):
        return False
    try:
        return json.loads(key_file.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def record_parse(target_dir: Path, key: str) -> None:
    aside = target_dir / f".{KEY_FILE}.{os.getpid()}"
    aside.write_text(json.dumps({"key": key}))
    os.replace(aside, target_dir / KEY_FILE)  # a reader finds the old key or the new one
