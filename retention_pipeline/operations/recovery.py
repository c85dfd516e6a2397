"""Recovery without a hand: runs whose process is gone are marked failed, their pool slots freed.

Called before every run starts (by `retention run` and by the daily schedule's evaluation), so a
run killed by SIGKILL, the OOM killer or a reboot never blocks the next one. Only Dagster's own
APIs are used (`report_run_failed`, `free_concurrency_slots_for_run`), never storage edits.
"""

from __future__ import annotations

import logging

import dagster as dg

from retention_pipeline.operations.processes import ProcessIdentity, is_alive
from retention_pipeline.partitions import WRITER_POOL

log = logging.getLogger(__name__)

# Statuses of a run that claims to have a live process.
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
               dg.DagsterRunStatus.CANCELING]


def recover_dead_runs(
    instance: dg.DagsterInstance, own_run_id: str | None = None, holds_writer_lock: bool = False
) -> list[str]:
    """Fail the in-progress runs whose process is gone and free their slots; returns messages.

    With `holds_writer_lock` (the caller holds the warehouse's file lock) every writer-pool slot
    held by another run is a leftover too: only the lock holder ever claims one.
    """
    messages = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        if run.run_id == own_run_id:
            continue
        identity = ProcessIdentity.from_tags(run.tags)
        if identity is None or is_alive(identity) is not False:
            continue
        instance.report_run_failed(
            run,
            message=f"Marked failed by retention_pipeline: its process (pid {identity.pid} on "
            f"{identity.host}) is gone (killed or crashed).",
        )
        _free_slots(instance, run.run_id)
        messages.append(f"run {run.run_id} (pid {identity.pid}) had died: marked failed, "
                        "its writer slot freed")
    messages.extend(_free_leftover_slots(instance, own_run_id, holds_writer_lock))
    return messages


def _free_leftover_slots(
    instance: dg.DagsterInstance, own_run_id: str | None, holds_writer_lock: bool
) -> list[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    if WRITER_POOL not in storage.get_concurrency_keys():
        return []
    info = storage.get_concurrency_info(WRITER_POOL)
    holders = {slot.run_id for slot in info.claimed_slots}
    holders |= {step.run_id for step in info.pending_steps}
    messages = []
    for run_id in sorted(holders - {own_run_id}):
        run = instance.get_run_by_id(run_id)
        finished = run is None or run.is_finished
        if finished or holds_writer_lock:
            _free_slots(instance, run_id)
            messages.append(f"freed the writer slot left by run {run_id}")
    return messages


def _free_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
