"""The job's executor: Dagster's in-process executor, inside the warehouse's writer lock.

Runs launched by the daemon (the schedule) or the UI go through the job's executor; this one
records the run's process (pid, start time, host) as run tags, takes the writer lock (saying every
30 s whom it waits for), frees leftovers of dead runs, then runs the steps in process as before.
`retention run` uses execute_in_process, which ignores the job's executor; the runner does the
same there itself.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.executor.init import InitExecutorContext
from dagster._utils.interrupts import pop_captured_interrupt

from retention_pipeline.operations import processes
from retention_pipeline.operations.recovery import recover_dead_runs
from retention_pipeline.operations.writer_lock import WriterLock, holder_record


class WriterLockedInProcessExecutor(InProcessExecutor):
    def __init__(self, warehouse, **kwargs):
        super().__init__(**kwargs)
        self._warehouse = warehouse

    def execute(self, plan_context, execution_plan):
        run_id = plan_context.run_id
        instance = plan_context.instance
        me = processes.current()
        instance.add_run_tags(run_id, me.as_tags())
        lock = WriterLock(self._warehouse)
        try:
            # Dagster defers SIGTERM/SIGINT here (outside any step): look for them while waiting.
            waiting = lock.waiting(holder_record(run_id, me.pid), interrupted=pop_captured_interrupt)
            for who, waited in waiting:
                yield DagsterEvent.engine_event(
                    plan_context,
                    f"Waiting for {who} to release the warehouse ({lock.path}), {waited:.0f} s so far",
                    EngineEventData(),
                )
            for message in recover_dead_runs(instance, own_run_id=run_id, holds_writer_lock=True):
                yield DagsterEvent.engine_event(plan_context, message, EngineEventData())
            yield from super().execute(plan_context, execution_plan)
        finally:
            if instance.event_log_storage.supports_global_concurrency_limits:
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            lock.release()


def writer_locked_executor(warehouse) -> dg.ExecutorDefinition:
    """An executor definition (config as `in_process`) bound to the warehouse file it locks."""
    from dagster._core.definitions.executor_definition import _core_in_process_executor_creation

    @dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
    def in_process_with_writer_lock(init_context: InitExecutorContext):
        core = _core_in_process_executor_creation(init_context.executor_config)
        return WriterLockedInProcessExecutor(
            warehouse,
            retries=core.retries,
            step_dependency_config=core.step_dependency_config,
        )

    return in_process_with_writer_lock
