"""Progress lines of a run, read from the run's Dagster event log by a background thread.

One line when a step starts, one when it ends (elapsed time, assets and rows written), the lines a
running step logs (e.g. each slice of a large file ingested), and a line every 30 s naming the
steps still running or waiting. Reading the event log (rather than hooking
into execution) sees exactly what the UI sees, whichever executor runs the steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.instance.ref import InstanceRef

EVERY_S = 30.0
DBT_STEP_PREFIX = "dbt_"  # dbt_models, dbt_after_predictions (assets/dbt.py)
POLL_S = 0.5
ROW_KEYS = ("dagster/row_count", "row_count", "rows", "rows_loaded")
TYPES = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def rows_of(metadata) -> int:
    for key in ROW_KEYS:
        value = metadata.get(key)
        if value is not None and isinstance(getattr(value, "value", None), int):
            return value.value
    return 0


@dataclass
class _Step:
    started: float
    assets: int = 0
    rows: int = 0
    checks_passed: int = 0
    checks_failed: int = 0

    def summary(self) -> str:
        parts = []
        if self.assets:
            parts.append(f"{self.assets} assets, {self.rows:,} rows")
        if self.checks_passed or self.checks_failed:
            parts.append(f"{self.checks_passed} checks passed, {self.checks_failed} failed")
        return "; ".join(parts) or "nothing written"


@dataclass
class ProgressPrinter:
    """Polls the event log of `run_id` until stopped; `echo` gets each line."""

    instance_ref: InstanceRef
    run_id: str
    echo: Callable[[str], None]
    every_s: float = EVERY_S
    running: dict[str, _Step] = field(default_factory=dict)
    finished: int = 0

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention-progress", daemon=True)
        self._started = time.monotonic()

    def start(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        with dg.DagsterInstance.from_ref(self.instance_ref) as instance:
            cursor = None
            next_beat = time.monotonic() + self.every_s
            while True:
                stopping = self._stop.is_set()
                cursor = self._drain(instance, cursor)
                if stopping:
                    return
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + self.every_s
                self._stop.wait(POLL_S)

    def _drain(self, instance, cursor):
        # Not filtered by event type: a step's own log lines have none.
        while True:
            try:
                connection = instance.get_records_for_run(self.run_id, cursor=cursor, limit=200)
            except Exception:  # noqa: BLE001 - a progress line is never worth failing the run
                return cursor
            for record in connection.records:
                self._on_event(record.event_log_entry)
            cursor = connection.cursor
            if not connection.has_more:
                return cursor

    def _on_event(self, entry) -> None:
        event = entry.dagster_event
        if event is None:
            self._on_log_line(entry)
            return
        if event.event_type not in TYPES:
            return
        step = event.step_key or "?"
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            self.running[step] = _Step(started=entry.timestamp)
            self.echo(f"▶ {step} started")
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION and step in self.running:
            self.running[step].assets += 1
            self.running[step].rows += rows_of(event.event_specific_data.materialization.metadata)
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION and step in self.running:
            if event.event_specific_data.passed:
                self.running[step].checks_passed += 1
            else:
                self.running[step].checks_failed += 1
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            state = self.running.pop(step, _Step(started=entry.timestamp))
            self.finished += 1
            took = duration(entry.timestamp - state.started)
            if kind == dg.DagsterEventType.STEP_SUCCESS:
                self.echo(f"✓ {step} done in {took}: {state.summary()}")
            else:
                self.echo(f"✗ {step} failed after {took}: {state.summary()}")

    def _on_log_line(self, entry) -> None:
        """What a running step logged itself (context.log): warnings, and the INFO lines of the
        steps that are not dbt's (dagster-dbt logs its selection and command line at INFO;
        dbt's own lines are --verbose's)."""
        step = entry.step_key
        if step not in self.running or not entry.user_message:
            return
        if entry.level >= logging.WARNING or (
            entry.level >= logging.INFO and not step.startswith(DBT_STEP_PREFIX)
        ):
            self.echo(f"  {step}: {entry.user_message}")

    def _heartbeat(self) -> None:
        now = time.time()
        if self.running:
            for step, state in self.running.items():
                self.echo(f"… {step} still running ({duration(now - state.started)})")
        else:
            waited = duration(time.monotonic() - self._started)
            self.echo(f"… waiting for the next step to start ({self.finished} steps done, "
                      f"run going for {waited})")
