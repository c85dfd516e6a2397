"""Which process a run lives in, and whether that process still exists.

A pid alone is not an identity: after a reboot or enough forks the number comes back for another
process. The kernel's start time of the process (clock ticks since boot, /proc/<pid>/stat) is
recorded beside it, so a recycled pid does not look like the old run still being alive.
"""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

PID_TAG = "retention/pid"
PID_START_TAG = "retention/pid_start"
HOST_TAG = "retention/host"


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start: str  # kernel start time of the process; "" where /proc is not available
    host: str

    def as_tags(self) -> dict[str, str]:
        return {PID_TAG: str(self.pid), PID_START_TAG: self.start, HOST_TAG: self.host}

    @classmethod
    def from_tags(cls, tags) -> ProcessIdentity | None:
        if PID_TAG not in tags or HOST_TAG not in tags:
            return None
        try:
            pid = int(tags[PID_TAG])
        except ValueError:
            return None
        return cls(pid=pid, start=tags.get(PID_START_TAG, ""), host=tags[HOST_TAG])


def start_time(pid: int) -> str | None:
    """The kernel's start time of a process, None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start = fields[0], fields[19]
    return None if state in ("Z", "X") else start


def current() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(pid=pid, start=start_time(pid) or "", host=socket.gethostname())


def is_alive(identity: ProcessIdentity) -> bool | None:
    """True or False for a process of this host; None (unknown) for one of another host."""
    if identity.host != socket.gethostname():
        return None
    if not Path("/proc").is_dir():
        try:
            os.kill(identity.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    started = start_time(identity.pid)
    if started is None:
        return False
    return not identity.start or started == identity.start


def descendants(root: int) -> list[int]:
    """Every process below `root` (children, their children …), from /proc; empty elsewhere."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.parent.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def end_children(timeout: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL, every process below this one.

    dbt is started by dagster-dbt as a plain child, and Dagster starts helpers of its own, so they
    are found here even when the step that started them never reached its clean-up.
    """
    import time

    below = descendants(os.getpid())
    for pid in below:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(pid) for pid in below):
        time.sleep(0.1)
    for pid in below:
        if _running(pid):
            _signal(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return below


def _running(pid: int) -> bool:
    return start_time(pid) is not None


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
