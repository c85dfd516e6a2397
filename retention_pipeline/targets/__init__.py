"""dbt targets: the engine dbt builds the models in (setting `dbt_target`).

Ingestion always validates into the DuckDB warehouse (quarantine and ingest_log stay there, the
same contract for every target). On `postgres` and `spark` the validated raw rows are then loaded
into the target's `raw` schema, and dbt reads its sources there.
"""

from __future__ import annotations

from retention_pipeline.targets.profile import dbt_target_env
from retention_pipeline.targets.raw import load_raw_into_target

__all__ = ["dbt_target_env", "load_raw_into_target"]
