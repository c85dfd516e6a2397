"""The dbt CLI resource: dagster-dbt's, without two costs it pays before every dbt invocation.

- `dbt --version` in a subprocess, to learn which dbt it runs (about 2.5 s: a whole dbt start-up).
  The pipeline runs the dbt of its own environment, whose version is the installed dbt-core's.
- A dbt adapter built inside Dagster's process (about 1.2 s: it loads dbt's macros). dagster-dbt
  uses it only for `fetch_row_counts()` / `fetch_column_metadata()`, which the pipeline does not
  call: the marts' metadata is read after dbt exits (assets/dbt.py).

Both are private parts of dagster-dbt; if they change name, these overrides are simply unused and
dbt starts as slowly as before, with the same results.
"""

from __future__ import annotations

import sys
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from retention_pipeline.paths import DBT_PROJECT_DIR


class PipelineDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == _own_dbt():
            return version.parse(metadata.version("dbt-core"))
        return super()._cli_version  # another dbt (on PATH): ask it

    def _initialize_dbt_core_adapter(self, args):
        return None


def _own_dbt() -> Path:
    """The dbt of this Python environment (present even when its bin/ is not on PATH)."""
    return Path(sys.executable).with_name("dbt")


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The dbt of this environment, even when its bin/ is not on PATH (cron, the UI's code server).
    own = _own_dbt()
    return PipelineDbtCliResource(
        project_dir=project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(own) if own.exists() else "dbt",
    )
