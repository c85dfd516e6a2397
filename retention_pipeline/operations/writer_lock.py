"""One writer of the warehouse at a time, across processes: an OS file lock beside the file.

Why a file lock and not only Dagster's pool: the kernel releases an flock when its process dies,
however it dies (SIGKILL, OOM, reboot), so a killed run can never keep the warehouse locked; and
it covers every way of starting a run (two `retention run`, the daemon's schedule, the UI). The
Dagster pool `duckdb_writer` stays, as the UI's view of who writes; its slots are only ever taken
by the holder of this lock, so a slot held by anybody else is a leftover (see recovery.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WAIT_MESSAGE_EVERY_S = 30.0
POLL_S = 1.0


def lock_path(warehouse: Path) -> Path:
    return Path(f"{Path(warehouse).resolve()}.lock")


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "another process"
    started = holder.get("started_at", "")
    try:
        started = dt.datetime.fromisoformat(started).astimezone().strftime("%H:%M")
    except ValueError:
        pass
    return f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')}, started {started})"


class WriterLock:
    """flock on `<warehouse>.lock`; the holder's run id, pid and start time are written into it."""

    def __init__(self, warehouse: Path):
        self.path = lock_path(warehouse)
        self._fd: int | None = None

    def try_acquire(self, holder: dict) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return True

    def acquire(self, holder: dict, on_wait: Callable[[str, float], None]) -> None:
        """Wait for the lock; `on_wait(who, seconds_waited)` at once and every 30 s while waiting."""
        for who, waited in self.waiting(holder):
            on_wait(who, waited)

    def waiting(
        self, holder: dict, interrupted: Callable[[], bool] = lambda: False
    ) -> Iterator[tuple[str, float]]:
        """Yields (who holds the lock, seconds waited) at once and every 30 s until it is ours.

        Polls once a second (an interruptible sleep, so SIGTERM/Ctrl-C stop the wait at once;
        where Dagster defers signals, `interrupted()` says one came and the wait ends with
        KeyboardInterrupt)."""
        started = time.monotonic()
        next_message = started
        while not self.try_acquire(holder):
            if interrupted():
                raise KeyboardInterrupt("stopped while waiting for the writer lock")
            now = time.monotonic()
            if now >= next_message:
                yield describe_holder(self.holder()), now - started
                next_message = now + WAIT_MESSAGE_EVERY_S
            time.sleep(POLL_S)

    def holder(self) -> dict | None:
        try:
            text = self.path.read_text()
            return json.loads(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def holder_record(run_id: str, pid: int) -> dict:
    return {"run_id": run_id, "pid": pid,
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
