"""SIGTERM and Ctrl-C stop a `retention run` promptly, whatever it is doing.

Dagster defers interrupts outside user code (it swaps the SIGINT/SIGTERM handlers during
execution), so a run waiting between steps would ignore them. Python's signal wake-up fd is
written for every caught signal whoever's handler runs, so a watcher thread always learns that a
signal came; the step in progress gets Dagster's interrupt (and dagster-dbt forwards it to dbt),
and if the run is still going `grace_s` later (e.g. waiting on the pool, where Dagster never
checks) the main thread gets a KeyboardInterrupt raised into it.

Exit codes follow the shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import Self

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 15.0


def exit_code(signum: int) -> int:
    return 128 + signum


class StopWatcher:
    """Context manager for the main thread of `retention run`."""

    def __init__(self, echo: Callable[[str], None], grace_s: float = GRACE_S):
        self.echo = echo
        self.grace_s = grace_s
        self.signum: int | None = None
        self._done = threading.Event()
        self._signalled = threading.Event()

    def __enter__(self) -> Self:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_handlers = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        # Until Dagster takes over (and after), both raise KeyboardInterrupt in the main thread.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.default_int_handler)
        self._old_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="retention-stop", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        signal.set_wakeup_fd(self._old_wakeup)
        os.write(self._write, b"\0")
        self._thread.join(timeout=5)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        os.close(self._read)
        os.close(self._write)

    @property
    def stopped(self) -> bool:
        return self.signum is not None

    def received(self, timeout_s: float = 2.0) -> int | None:
        """The signal that stopped the run, once the watcher has read it (None: none came).

        A KeyboardInterrupt can reach the main thread before the watcher thread has had its turn
        to read the wake-up fd (the signal's byte is written before any handler runs), so the
        main thread waits a moment for it rather than guess SIGINT for a SIGTERM.
        """
        self._signalled.wait(timeout_s)
        return self.signum

    def _watch(self) -> None:
        while not self._done.is_set():
            select.select([self._read], [], [])
            for byte in os.read(self._read, 64):
                if byte in STOP_SIGNALS and self.signum is None and not self._done.is_set():
                    self.signum = byte
                    self._signalled.set()
                    self.echo(f"■ {signal.Signals(byte).name} received: stopping the run "
                              "(the step in progress is marked failed)")
                    threading.Thread(target=self._escalate, daemon=True).start()

    def _escalate(self) -> None:
        if self._done.wait(self.grace_s):
            return
        self.echo("■ still running: interrupting the main thread")
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(self._main), ctypes.py_object(KeyboardInterrupt)
        )
