"""Great Expectations suites as Dagster asset checks, on the raw tables and on the marts.

`build_quality_checks(settings, partitions)` returns one multi-asset check per checked asset:
- raw tables (`raw/<entity>`): `gx_expectations` (blocking, severity ERROR) and `gx_warnings`
  (non-blocking, severity WARN), computed together from one pull of the day's batch; which
  expectation is which, and why, is in `raw_suites`;
- marts (`marts/<name>`): `gx_expectations` (blocking): exports must not go out on bad numbers.

A failing blocking check fails its step, so Dagster does not start anything downstream of the
checked asset in that run (dbt after raw, activation after the marts).

Partitions: with `partitions` (the assets' own daily PartitionsDefinition) the checks are
partitioned like their assets, so each evaluation is recorded against its day in the UI (Dagster
1.13: `partitions_def` on AssetCheckSpec, a preview feature; it must be the very same definition as
the asset's). Either way, in a partitioned run `context.partition_key` is the run's partition and
is the as-of date (AssetCheckExecutionContext.partition_key, checked on Dagster 1.13 for both
kinds). A check run on its own, outside a partitioned run, uses the `as_of` setting, else the
latest `_batch_date` in its table.

Nothing heavy at import: Great Expectations and the suites are imported inside the check bodies.
"""

import datetime as dt
import time
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import dagster as dg

from retention_pipeline.assets.raw import ENTITIES, raw_key
from retention_pipeline.partitions import WRITER_POOL, as_of_from_partition
from retention_pipeline.settings import Settings

BLOCKING_CHECK = "gx_expectations"
WARNING_CHECK = "gx_warnings"
CHECKED_MARTS = ("cohort_retention", "repurchase_by_cohort", "repurchase_by_period", "dim_customers")
# Checks read the warehouse file; DuckDB locks it against readers while another process writes.
POOL = WRITER_POOL


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def build_quality_checks(
    settings: Settings,
    partitions: dg.PartitionsDefinition | None = None,
    asset_keys: Collection[dg.AssetKey] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """The GX asset checks; with `asset_keys`, only those whose asset is among them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        checks = [_raw_check(entity, settings, partitions) for entity in ENTITIES]
        checks += [_mart_check(name, settings, partitions) for name in CHECKED_MARTS]
    from retention_pipeline.quality.status_check import build_status_check

    checks.append(build_status_check(settings, partitions))
    if asset_keys is not None:
        wanted = set(asset_keys)
        checks = [c for c in checks if {k.asset_key for k in c.check_keys} <= wanted]
    return checks


def _raw_check(entity: str, settings: Settings, partitions: dg.PartitionsDefinition | None):
    key = raw_key(entity)
    specs = [
        dg.AssetCheckSpec(
            BLOCKING_CHECK, asset=key, blocking=True, partitions_def=partitions,
            description=f"Great Expectations on the day's `raw.{entity}` batch: keys, uniqueness "
            "of versions, amounts and dates that would corrupt the marts. Stops the run.",
        ),
        dg.AssetCheckSpec(
            WARNING_CHECK, asset=key, blocking=False, partitions_def=partitions,
            description=f"Great Expectations on the day's `raw.{entity}` batch: rows that are kept "
            "by design but someone should look at (unknown references, statuses, late dates).",
        ),
    ]

    @dg.multi_asset_check(
        specs=specs, name=f"gx_raw_{entity}", pool=POOL, compute_kind="great_expectations"
    )
    def _check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        from retention_pipeline.quality.raw_suites import RAW_FRAMES

        frame = RAW_FRAMES[entity]
        as_of = _raw_as_of(context, settings, frame.table)
        evaluation = evaluate(settings, [frame], as_of)
        # An optional entity the shop never sends has no table: nothing to check.
        yield check_result(evaluation, key, BLOCKING_CHECK, blocking=True, missing_ok=True)
        yield check_result(evaluation, key, WARNING_CHECK, blocking=False, missing_ok=True)

    return _check


def _mart_check(name: str, settings: Settings, partitions: dg.PartitionsDefinition | None):
    key = mart_key(name)
    spec = dg.AssetCheckSpec(
        BLOCKING_CHECK, asset=key, blocking=True, partitions_def=partitions,
        description=f"Great Expectations on `marts.{name}`: rates are shares, counts nest, "
        "scores are 1..5. Blocking: exports must not go out on numbers that cannot be right.",
    )

    @dg.multi_asset_check(
        specs=[spec], name=f"gx_marts_{name}", pool=POOL, compute_kind="great_expectations"
    )
    def _check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        from retention_pipeline.quality.mart_suites import MART_FRAMES

        as_of = _partition_as_of(context) or settings.effective_as_of
        evaluation = evaluate(settings, MART_FRAMES[name], as_of)
        yield check_result(evaluation, key, BLOCKING_CHECK, blocking=True, missing_ok=False)

    return _check


@dataclass(frozen=True)
class Evaluation:
    """What one check pulled and what GX said about it."""

    as_of: dt.date
    outcome: object | None  # gx_runner.SuiteOutcome; None when a table is missing
    missing_tables: tuple[str, ...]
    rows_in_scope: int
    rows_checked: int
    sampled: bool
    pull_seconds: float
    validate_seconds: float


def evaluate(settings: Settings, frames: list, as_of: dt.date) -> Evaluation:
    """Pull each frame (connection closed before GX runs, so the file is free) and validate it."""
    from retention_pipeline.quality.frames import pull, table_exists
    from retention_pipeline.quality.gx_runner import merge, run_suite

    started = time.perf_counter()
    with _reading(settings, frames) as con:
        missing = tuple(sorted({f.table for f in frames if not table_exists(con, f.table)}))
        pulled = [] if missing else [pull(con, f, as_of, settings.quality_max_rows) for f in frames]
    pulled_at = time.perf_counter()
    outcome = None
    if not missing:
        outcomes = [run_suite(p.df, f.name, f.expectations(as_of)) for f, p in zip(frames, pulled)]
        outcome = merge(frames[0].name, outcomes)
    return Evaluation(
        as_of=as_of,
        outcome=outcome,
        missing_tables=missing,
        # The first frame holds the rows; the others are aggregates of it.
        rows_in_scope=pulled[0].rows_in_scope if pulled else 0,
        rows_checked=len(pulled[0].df) if pulled else 0,
        sampled=any(p.sampled for p in pulled),
        pull_seconds=round(pulled_at - started, 3),
        validate_seconds=round(time.perf_counter() - pulled_at, 3),
    )


def _reading(settings: Settings, frames: list):
    """Raw tables are always in the DuckDB warehouse; marts are wherever dbt built them."""
    from retention_pipeline.targets.local import target_view
    from retention_pipeline.warehouse import connect

    if all(f.schema_and_table[0] == "raw" for f in frames):
        return connect(settings.warehouse, read_only=True, settings=settings)
    return target_view(settings, sorted({t for f in frames for t in (f.table, *f.also_reads)}))


def check_result(
    evaluation: Evaluation, asset_key: dg.AssetKey, check_name: str, blocking: bool, missing_ok: bool
) -> dg.AssetCheckResult:
    """The asset-check result for one severity: which expectations failed, on how many rows."""
    from retention_pipeline.quality.gx_runner import ERROR, WARN

    severity = ERROR if blocking else WARN
    base = {
        "as_of": dg.MetadataValue.text(evaluation.as_of.isoformat()),
        "rows_in_scope": dg.MetadataValue.int(evaluation.rows_in_scope),
        "rows_checked": dg.MetadataValue.int(evaluation.rows_checked),
        "sampled": dg.MetadataValue.bool(evaluation.sampled),
        "pull_seconds": dg.MetadataValue.float(evaluation.pull_seconds),
        "validate_seconds": dg.MetadataValue.float(evaluation.validate_seconds),
    }
    dagster_severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    if evaluation.outcome is None:
        tables = ", ".join(evaluation.missing_tables)
        return dg.AssetCheckResult(
            asset_key=asset_key, check_name=check_name, passed=missing_ok, severity=dagster_severity,
            metadata={**base, "missing_tables": dg.MetadataValue.text(tables)},
            description=f"no table {tables}: nothing to check" if missing_ok
            else f"table {tables} is missing",
        )
    outcomes = evaluation.outcome.of_severity(severity)
    failed = [o for o in outcomes if not o.success]
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=not failed,
        severity=dagster_severity,
        metadata={
            **base,
            "suite": dg.MetadataValue.text(evaluation.outcome.suite),
            "expectations": dg.MetadataValue.int(len(outcomes)),
            "failed_expectations": dg.MetadataValue.int(len(failed)),
            "failures": dg.MetadataValue.json([o.to_dict() for o in failed]),
            "results": dg.MetadataValue.md(_results_table(outcomes)),
        },
        description=_describe(failed, evaluation),
    )


def _describe(failed: list, evaluation: Evaluation) -> str | None:
    if not failed:
        return None
    scope = " (on a key-hash sample)" if evaluation.sampled else ""
    parts = []
    for o in failed:
        if o.error:
            parts.append(f"{o.label}: error: {o.error}")
        else:
            parts.append(
                f"{o.label}: {o.unexpected_count} of {o.element_count} rows "
                f"({o.unexpected_percent or 0:.3g} %), e.g. {o.sample[:3]}"
            )
    return f"{len(failed)} expectation(s) failed{scope}: " + "; ".join(parts)


def _results_table(outcomes: list) -> str:
    lines = ["| expectation | result | unexpected | % | sample |", "|---|---|---|---|---|"]
    for o in outcomes:
        status = "pass" if o.success else ("ERROR: " + o.error if o.error else "FAIL")
        percent = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.3g}"
        sample = str(o.sample[:5]) if o.sample else ""
        cells = [o.label, status, str(o.unexpected_count or 0), percent, sample]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _partition_as_of(context: dg.AssetCheckExecutionContext) -> dt.date | None:
    return as_of_from_partition(context.partition_key) if context.has_partition_key else None


def _raw_as_of(context: dg.AssetCheckExecutionContext, settings: Settings, table: str) -> dt.date:
    """The run's partition; else the configured as-of; else the latest batch in the table."""
    as_of = _partition_as_of(context) or settings.as_of
    if as_of is not None:
        return as_of
    from retention_pipeline.quality.frames import table_exists
    from retention_pipeline.warehouse import connect

    with connect(settings.warehouse, read_only=True, settings=settings) as con:
        latest = con.execute(f"select max(_batch_date) from {table}").fetchone()[0] if table_exists(
            con, table
        ) else None
    return latest or settings.effective_as_of
