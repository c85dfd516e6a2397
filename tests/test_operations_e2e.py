"""Crash safety end to end, with real `retention run` processes on a small generated shop:
a run killed mid-dbt, SIGTERM to a waiting run and to a run in dbt, two runs at once."""

from __future__ import annotations

import datetime as dt
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.instance.ref import InstanceRef

from retention_pipeline.partitions import WRITER_POOL
from retention_pipeline.warehouse import connect

pytestmark = pytest.mark.slow
RETENTION = str(Path(sys.executable).with_name("retention"))
AS_OF = "2026-11-20"
CUSTOMERS = 500
RUN_TIMEOUT_S = 1200  # a whole run on a loaded 2-core machine; the guard against a hang
DBT_STEP = "dbt_models"
# Columns that say when, not what: they differ between any two runs.
RUN_TIME_COLUMNS = {("model_fit", "fitted_at")}
# A log of publishes, not a state of the day: one row per table and publish, timestamped.
PUBLISH_LOGS = {"serving_log"}


class Run:
    """A `retention run` in its own process group, its output lines collected as they come."""

    def __init__(self, root: Path, landing: Path):
        env = {**os.environ, "RETENTION_DAGSTER_HOME": str(root / "home")}
        self.process = subprocess.Popen(
            [RETENTION, "run", "--landing", str(landing), "--warehouse", str(root / "w.duckdb"),
             "--exports", str(root / "exports"), "--as-of", AS_OF],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(self.lines[-1])
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = RUN_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output[-4000:]}")

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"run did not finish in {timeout} s:\n{self.output[-4000:]}")

    def group_gone(self) -> bool:
        """No live process left in the run's process group (a zombie is dead, only unreaped:
        its parent, the run, is gone and this container's init does not reap)."""
        states = subprocess.run(["ps", "-o", "stat=", "-g", str(self.process.pid)],
                                capture_output=True, text=True, check=False).stdout.split()
        return all(state.startswith("Z") for state in states)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from retention_pipeline.generator import generate_shop

    folder = tmp_path_factory.mktemp("ops_shop") / "landing"
    generate_shop(folder, customers=CUSTOMERS, seed=11, end=dt.date.fromisoformat(AS_OF))
    return folder


def marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    """Every table of schema marts, rows in a canonical order."""
    tables = {}
    with connect(warehouse, read_only=True) as con:
        names = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()]
        for name in sorted(set(names) - PUBLISH_LOGS):
            frame = con.execute(f'select * from marts."{name}"').df()
            frame = frame.drop(columns=[c for t, c in RUN_TIME_COLUMNS if t == name])
            columns = list(frame.columns)
            tables[name] = frame.sort_values(columns).reset_index(drop=True) if columns else frame
    return tables


def assert_same_marts(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=False, obj=name)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, landing):
    root = tmp_path_factory.mktemp("ops_reference")
    run = Run(root, landing)
    assert run.wait() == 0, run.output[-4000:]
    return root, run


@pytest.fixture(scope="module")
def reference(reference_run):
    root, _run = reference_run
    return marts(root / "w.duckdb")


def test_a_quiet_run_prints_its_steps_and_no_log_records(reference_run):
    """Without --verbose: a line per step, no dbt line and no Python log record (importing dbt
    gives the root logger a stderr handler, which printed Dagster's own INFO records)."""
    _root, run = reference_run
    assert any(re.search(r"▶ dbt_models started", line) for line in run.lines), run.output
    records = [line for line in run.lines if re.match(r"(DEBUG|INFO|WARNING):", line)]
    assert not records, "\n".join(records[:10])
    assert not [line for line in run.lines if "Running dbt command" in line]


def _instance(root: Path):
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "home")))


def _runs_by_status(root: Path) -> dict:
    with _instance(root) as instance:
        return {run.run_id: run.status for run in instance.get_runs()}


def _slot_holders(root: Path) -> set[str]:
    with _instance(root) as instance:
        storage = instance.event_log_storage
        if WRITER_POOL not in storage.get_concurrency_keys():
            return set()
        return {slot.run_id for slot in storage.get_concurrency_info(WRITER_POOL).claimed_slots}


def test_a_run_killed_mid_dbt_never_blocks_the_next_and_the_rerun_gives_the_same_marts(
    tmp_path, landing, reference
):
    killed = Run(tmp_path, landing)
    killed.wait_for_line(rf"▶ {DBT_STEP} started")
    time.sleep(5)  # dbt is building models now
    os.killpg(killed.process.pid, signal.SIGKILL)
    killed.process.wait(timeout=30)
    assert _slot_holders(tmp_path), "the killed run left its writer slot taken"
    assert dg.DagsterRunStatus.STARTED in _runs_by_status(tmp_path).values()

    rerun = Run(tmp_path, landing)
    assert rerun.wait() == 0, rerun.output[-4000:]
    assert "had died: marked failed, its writer slot freed" in rerun.output
    statuses = sorted(status.value for status in _runs_by_status(tmp_path).values())
    assert statuses == ["FAILURE", "SUCCESS"]
    assert _slot_holders(tmp_path) == set()
    assert_same_marts(marts(tmp_path / "w.duckdb"), reference)


def test_sigterm_stops_a_waiting_run_and_a_run_in_dbt_and_the_next_starts_at_once(
    tmp_path, landing
):
    first = Run(tmp_path, landing)
    first.wait_for_line(rf"▶ {DBT_STEP} started")
    second = Run(tmp_path, landing)
    second.wait_for_line(r"waiting for run \S+ \(pid \d+, started \d\d:\d\d\) to release the "
                         r"warehouse", timeout=300)

    for run in (second, first):  # the waiting one, then the one in its dbt step
        signalled = time.monotonic()
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait(timeout=30) == 143, run.output[-4000:]
        assert time.monotonic() - signalled < 30
        time.sleep(1)
        assert run.group_gone(), "a child process (dbt) outlived the run:\n" + subprocess.run(
            ["ps", "-o", "pid,stat,cmd", "-g", str(run.process.pid)], capture_output=True,
            text=True, check=False).stdout
    assert re.search(rf"✗ {DBT_STEP} failed", first.output), first.output[-3000:]
    assert dg.DagsterRunStatus.STARTED not in _runs_by_status(tmp_path).values()
    assert _slot_holders(tmp_path) == set()

    following = Run(tmp_path, landing)
    following.wait_for_line(r"▶ \S+ started", timeout=300)
    assert "waiting for run" not in following.output
    assert following.wait() == 0, following.output[-4000:]


def test_two_runs_at_once_one_waits_visibly_and_the_warehouse_is_consistent(
    tmp_path, landing, reference
):
    runs = [Run(tmp_path, landing), Run(tmp_path, landing)]
    codes = [run.wait() for run in runs]
    assert codes == [0, 0], [run.output[-3000:] for run in runs]
    waited = [run for run in runs if "to release the warehouse" in run.output]
    assert len(waited) == 1, "exactly one of the two runs waited for the other"
    statuses = [status.value for status in _runs_by_status(tmp_path).values()]
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert_same_marts(marts(tmp_path / "w.duckdb"), reference)
