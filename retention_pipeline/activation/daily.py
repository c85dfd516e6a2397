"""A whole activation day in order, outside Dagster (tests, scripts). The Dagster assets
(retention_pipeline/assets/activation.py) run the same steps, one asset each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from retention_pipeline.activation import checks, contact_log, exports, lift, policy, segments
from retention_pipeline.settings import Settings
from retention_pipeline.warehouse import connect


class ActivationCheckError(RuntimeError):
    """A blocking check failed: nothing was logged or exported for the day."""

    def __init__(self, failed: list[checks.CheckResult]):
        self.failed = failed
        super().__init__(
            "blocking activation check(s) failed: "
            + "; ".join(f"{r.name} ({r.failing_rows} rows, e.g. {r.sample[:2]})" for r in failed)
        )


@dataclass
class DayResult:
    decision: policy.Decision
    checks: list[checks.CheckResult]
    logged: int
    segments: dict[str, int]
    lift_rows: int
    export: exports.ExportResult


def run_day(
    warehouse: Path, settings: Settings, as_of: dt.date, exports_dir: Path | None = None
) -> DayResult:
    with connect(warehouse, settings=settings) as con:
        decision = policy.decide(con, settings, as_of)
        results = checks.run_checks(con, settings, as_of)
        failed = [r for r in results if not r.passed]
        if failed:
            raise ActivationCheckError(failed)
        logged = contact_log.record_day(con, as_of)
        members = segments.build_segment_members(con, settings, as_of)
        lift_rows = lift.build_campaign_lift(con, settings, as_of)
        written = exports.write_exports(con, settings, as_of, exports_dir or settings.exports)
    return DayResult(decision, results, logged, members, lift_rows, written)
