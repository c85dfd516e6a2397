"""The lines `retention run` prints, read from a real run's Dagster event log (operations/progress.py)."""

import datetime as dt

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from retention_pipeline.operations.progress import ProgressPrinter
from retention_pipeline.runner import prepare_environment
from retention_pipeline.settings import load_settings


@dg.asset
def raw__things(context: dg.AssetExecutionContext) -> None:
    context.log.debug("a detail nobody asked for")
    context.log.info("things: slice 1 of 2 checked (2 of 3 rows of 1 file(s))")


@dg.asset(deps=[raw__things])
def dbt_models(context: dg.AssetExecutionContext) -> None:
    context.log.info("Running dbt command: `dbt build`")  # dagster-dbt's chatter
    context.log.warning("could not record the dbt build's end")


def test_a_steps_own_lines_are_printed_dbt_chatter_is_not(tmp_path):
    settings = load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "w.duckdb",
                             exports=tmp_path / "exports", dagster_home=tmp_path / "home",
                             as_of=dt.date(2026, 11, 20))
    home = prepare_environment(settings)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run_id = dg.materialize([raw__things, dbt_models], instance=instance).run_id
    lines: list[str] = []
    printer = ProgressPrinter(InstanceRef.from_dir(str(home)), run_id, lines.append)
    printer.start().stop()  # stopping reads the whole event log first
    shown = [line for line in lines if not line.startswith(("✓", "▶"))]
    assert shown == [
        "  raw__things: things: slice 1 of 2 checked (2 of 3 rows of 1 file(s))",
        "  dbt_models: could not record the dbt build's end",
    ]
    assert [line.split(" done")[0] for line in lines if line.startswith("✓")] \
        == ["✓ raw__things", "✓ dbt_models"]
