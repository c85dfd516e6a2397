"""The lines `retention run` prints, read from a real run's Dagster event log (operations/progress.py)."""

import datetime as dt
import logging
import threading

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from retention_pipeline.operations.progress import ProgressPrinter
from retention_pipeline.runner import _dagster_logger_off_the_root_handlers, prepare_environment
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


def test_quiet_dbt_drops_the_dbt_lines_not_the_progress_lines_printed_meanwhile(capsys):
    """Without --verbose the dbt step drops dagster-dbt's echo of every dbt line. stdout is the
    whole process's: a progress line printed by another thread while the next dbt event is read
    (the step's ▶ line, as dbt starts at once) must still come out."""
    from retention_pipeline.assets.dbt import _without_dbt_stdout

    def dbt_events():
        print("dbt says 1")  # dagster-dbt's echo, in the thread that reads the events
        progress = threading.Thread(target=lambda: print("▶ dbt_models started"))
        progress.start()
        progress.join()
        yield "first"
        print("dbt says 2")
        yield "second"

    assert list(_without_dbt_stdout(dbt_events())) == ["first", "second"]
    printed = capsys.readouterr().out
    assert "▶ dbt_models started" in printed
    assert "dbt says" not in printed


@dg.asset
def chatty() -> None:
    dg.get_dagster_logger().info("Running dbt command: `dbt build`")  # how dagster-dbt logs


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_during_a_run_dagster_log_records_reach_the_event_log_not_the_root_handlers():
    """Importing dbt calls logging.basicConfig(): a root handler printing INFO records to stderr.
    A run keeps Dagster's Python logger off it (the records still reach the event log)."""
    root = _Kept()
    logging.root.addHandler(root)
    try:
        with dg.DagsterInstance.ephemeral() as instance, _dagster_logger_off_the_root_handlers():
            run_id = dg.materialize([chatty], instance=instance).run_id
            logged = [entry.user_message for entry in instance.all_logs(run_id)]
    finally:
        logging.root.removeHandler(root)
    assert any("Running dbt command" in message for message in logged)
    assert not [message for message in root.messages if "Running dbt command" in message]
    assert dg.get_dagster_logger().propagate, "the logger is as it was after the run"
