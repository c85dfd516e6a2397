"""Crash safety without a full run: process identity, the writer lock, recovery of dead runs
(also from the schedule's evaluation), the marts' freshness policy."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.test_utils import create_run_for_test

from retention_pipeline.operations import processes
from retention_pipeline.operations.freshness import marts_freshness_policy
from retention_pipeline.operations.recovery import recover_dead_runs
from retention_pipeline.operations.writer_lock import WriterLock, holder_record
from retention_pipeline.partitions import WRITER_POOL
from retention_pipeline.runner import prepare_environment
from retention_pipeline.settings import load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "w.duckdb",
                         exports=tmp_path / "exports", dagster_home=tmp_path / "home",
                         as_of=dt.date(2026, 11, 20))


@pytest.fixture
def instance(settings):
    home = prepare_environment(settings)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        yield instance


def test_a_recycled_pid_is_not_taken_for_the_old_process():
    me = processes.current()
    assert processes.is_alive(me) is True
    assert processes.is_alive(processes.ProcessIdentity(me.pid, "1", me.host)) is False
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert processes.is_alive(processes.ProcessIdentity(gone.pid, "", me.host)) is False
    assert processes.is_alive(processes.ProcessIdentity(me.pid, me.start, "elsewhere")) is None


def _run_holding_the_pool(instance, identity, step_key="raw_orders"):
    run = create_run_for_test(instance, job_name="daily_refresh",
                              status=dg.DagsterRunStatus.STARTED, tags=identity.as_tags())
    storage = instance.event_log_storage
    storage.set_concurrency_slots(WRITER_POOL, 1)
    assert storage.claim_concurrency_slot(WRITER_POOL, run.run_id, step_key).is_claimed
    return run


def _slot_holders(instance):
    info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
    return {slot.run_id for slot in info.claimed_slots}


def test_a_dead_run_is_failed_and_its_slot_freed_a_live_one_kept(instance):
    me = processes.current()
    dead = _run_holding_the_pool(instance, processes.ProcessIdentity(me.pid, "1", me.host))
    messages = recover_dead_runs(instance)
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _slot_holders(instance) == set()
    assert any(dead.run_id in message for message in messages)

    alive = _run_holding_the_pool(instance, me)
    assert recover_dead_runs(instance) == []
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
    assert _slot_holders(instance) == {alive.run_id}
    # Under the writer lock, a slot of another run is a leftover whatever its process.
    recover_dead_runs(instance, own_run_id="mine", holds_writer_lock=True)
    assert _slot_holders(instance) == set()


def test_the_schedule_recovers_dead_runs_before_its_run_request(settings, instance):
    from retention_pipeline.definitions import build_definitions

    me = processes.current()
    dead = _run_holding_the_pool(instance, processes.ProcessIdentity(me.pid, "1", me.host))
    schedule = build_definitions(settings).resolve_schedule_def("daily_refresh_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC))
    result = schedule.evaluate_tick(context)
    assert [request.partition_key for request in result.run_requests] == ["2026-11-20"]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _slot_holders(instance) == set()


def test_the_writer_lock_says_whom_it_waits_for_and_is_freed_by_death(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from retention_pipeline.operations.writer_lock import WriterLock, holder_record
        lock = WriterLock({str(warehouse)!r})
        assert lock.try_acquire(holder_record("run-a", {os.getpid() + 0}))
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    lock = WriterLock(warehouse)
    waits = []
    waiting = lock.waiting(holder_record("run-b", os.getpid()))
    waits.append(next(waiting))
    assert "run run-a (pid" in waits[0][0]
    holder.kill()  # SIGKILL: the kernel releases the lock
    holder.wait()
    started = time.monotonic()
    for _ in waiting:
        pass
    assert lock.held and time.monotonic() - started < 5
    assert lock.holder()["run_id"] == "run-b"
    lock.release()


def test_every_mart_has_the_freshness_policy_and_nothing_else(settings):
    from retention_pipeline.definitions import build_definitions

    settings = settings.model_copy(update={"schedule_hour": 5, "freshness_grace_hours": 1.5,
                                           "reporting_tz": "Europe/Berlin"})
    expected = marts_freshness_policy(settings)
    assert expected.deadline_cron == "30 6 * * *"
    assert expected.lower_bound_delta == dt.timedelta(hours=6, minutes=30)
    graph = build_definitions(settings).resolve_asset_graph()
    marts = [key for key in graph.get_all_asset_keys() if key.path[0] == "marts"]
    for name in ("dim_customers", "cohort_retention", "customer_predictions", "contact_log"):
        assert dg.AssetKey(["marts", name]) in marts
    for key in graph.get_all_asset_keys():
        policy = graph.get(key).freshness_policy
        assert policy == (expected if key in marts else None), key.to_user_string()


@dg.asset(pool=WRITER_POOL)
def _tiny_writer() -> None:
    """Stands in for the pipeline's steps: one step of the writer pool."""


def tiny_locked_job() -> dg.JobDefinition:
    from retention_pipeline.operations.executor import writer_locked_executor

    defs = dg.Definitions(
        assets=[_tiny_writer],
        jobs=[dg.define_asset_job("tiny")],
        executor=writer_locked_executor(os.environ["OPS_TEST_WAREHOUSE"]),
    )
    return defs.resolve_job_def("tiny")


def test_a_launched_run_tags_its_process_waits_for_the_lock_and_frees_leftovers(
    tmp_path, instance, monkeypatch
):
    """The job's executor (runs of the daemon and the UI) holds the writer lock like the CLI."""
    import threading

    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("OPS_TEST_WAREHOUSE", str(warehouse))
    me = processes.current()
    dead = _run_holding_the_pool(instance, processes.ProcessIdentity(me.pid, "1", me.host))
    lock = WriterLock(warehouse)
    assert lock.try_acquire(holder_record("cli-run", 4242))
    threading.Timer(3.0, lock.release).start()

    result = dg.execute_job(dg.reconstructable(tiny_locked_job), instance=instance)

    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run.tags[processes.PID_TAG] == str(os.getpid())
    messages = [event.message or "" for event in result.all_events]
    assert any("Waiting for run cli-run (pid 4242" in m for m in messages), messages
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _slot_holders(instance) == set()
    assert not WriterLock(warehouse).holder()  # released, and the holder record cleared


STOP_SCRIPT = """
import os, sys, time
from dagster._utils.interrupts import capture_interrupts
from retention_pipeline.operations.stopping import StopWatcher, exit_code
with StopWatcher(lambda line: print(line, flush=True), grace_s=2.0) as stop:
    try:
        with capture_interrupts():  # as while Dagster waits on a pool: signals only recorded
            print("waiting", flush=True)
            while True:
                time.sleep(0.05)
    except KeyboardInterrupt:
        pass
os._exit(exit_code(stop.signum))
"""


# The KeyboardInterrupt of a SIGTERM reaches the main thread at once; a long switch interval
# keeps the watcher thread from reading the signal's byte until the main thread blocks.
RACE_SCRIPT = """
import os, signal, sys
from retention_pipeline.operations.stopping import StopWatcher, exit_code
sys.setswitchinterval(30)
with StopWatcher(lambda line: None) as stop:
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        while True:
            pass
    except KeyboardInterrupt:
        code = exit_code(stop.received() or signal.SIGINT)
os._exit(code)
"""


def test_a_sigterm_is_told_from_ctrl_c_even_before_the_watcher_has_read_it():
    child = subprocess.run([sys.executable, "-c", RACE_SCRIPT], timeout=60, check=False)
    assert child.returncode == 143


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_even_code_where_dagster_defers_interrupts(signum):
    child = subprocess.Popen([sys.executable, "-c", STOP_SCRIPT], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "waiting"
    sent = time.monotonic()
    child.send_signal(signum)
    assert child.wait(timeout=20) == 128 + signum
    assert time.monotonic() - sent < 10
    assert f"{signal.Signals(signum).name} received" in child.stdout.read()
