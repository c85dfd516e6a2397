"""The short summary `retention run` prints: rows per mart, check results, where exports went."""

from __future__ import annotations

from pathlib import Path

from retention_pipeline.runner import RunOutcome
from retention_pipeline.settings import Settings
from retention_pipeline.warehouse import connect


def mart_row_counts(warehouse: Path) -> dict[str, int]:
    if not Path(warehouse).exists():
        return {}
    with connect(warehouse, read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            ).fetchall()
        ]
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def format_summary(settings: Settings, outcome: RunOutcome) -> str:
    lines = [
        (
            f"retention run for {outcome.as_of}: {'OK' if outcome.success else 'FAILED'} "
            f"(Dagster run {outcome.run_id})"
        ),
        f"warehouse: {settings.warehouse}",
    ]
    counts = mart_row_counts(settings.warehouse)
    if counts:
        width = max(len(t) for t in counts)
        lines.append("marts (rows):")
        lines += [f"  marts.{table:<{width}}  {rows:>10,}" for table, rows in counts.items()]
    passed = sum(c.passed for c in outcome.checks)
    lines.append(f"checks: {passed} passed, {len(outcome.checks) - passed} failed")
    for check in outcome.checks:
        if not check.passed:
            kind = "BLOCKING" if check.blocking else "warning"
            detail = f": {check.description}" if check.description else ""
            lines.append(f"  FAILED ({kind}) {check.asset} {check.name}{detail}")
    lines += _serving_lines(settings, outcome.as_of)
    export_dir = settings.exports / outcome.as_of
    lines.append(f"exports: {export_dir if export_dir.exists() else 'none written'}")
    for failure in outcome.failures:
        lines.append(f"error: {failure}")
    return "\n".join(lines)


def _serving_lines(settings: Settings, as_of: str) -> list[str]:
    """Where BI tools find the day (the serving copies published for it), or that none was."""
    import datetime as dt

    from retention_pipeline.serving.log import latest_publishes

    published = latest_publishes(settings.warehouse, dt.date.fromisoformat(as_of))
    where = {"serving": str(settings.serving), "parquet": str(settings.serving_parquet),
             "postgres": "PostgreSQL schema marts"}
    if not published:
        return [f"serving: nothing published for {as_of} (BI tools keep the previous day)"]
    kind = {"serving": "duckdb"}
    return [f"serving {kind.get(target, target)}: {where.get(target, target)} "
            f"({tables} tables, {rows:,} rows)" for target, (tables, rows) in published.items()]
