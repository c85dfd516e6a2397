"""A whole activation day in order, outside Dagster (tests, scripts): the activation dbt build
(campaign_candidates and its blocking checks, contact_log, segment_members, campaign_lift), then
the CRM files. The Dagster job runs the same steps as the `dbt_after_predictions` and
`exports/crm_files` assets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from retention_pipeline.activation import exports
from retention_pipeline.activation.build import BuildResult, build_activation
from retention_pipeline.settings import Settings


@dataclass
class DayResult:
    build: BuildResult
    export: exports.ExportResult


def run_day(warehouse: Path, settings: Settings, as_of: dt.date,
            exports_dir: Path | None = None) -> DayResult:
    """The day on `warehouse` (the DuckDB file; other targets are the settings'). Raises
    ActivationBuildError (nothing logged or exported) when a blocking check fails."""
    settings = settings.model_copy(update={"warehouse": Path(warehouse)})
    built = build_activation(settings, as_of)
    written = exports.write_exports(settings, as_of, exports_dir or settings.exports)
    return DayResult(built, written)
