"""Writing a file beside its final place and moving it over the old one (same folder, same disk).

A reader holding the old file keeps reading the old inode; a run killed before the move leaves the
old file whole and a temporary file (and a DuckDB write-ahead log
beside it) that the next run removes.
"""

from __future__ import annotations

import os
from pathlib import Path

TMP_SUFFIX = ".tmp"


def temp_path(final: Path) -> Path:
    """Hidden, in the same folder (os.replace is atomic only within one file system)."""
    return final.with_name(f".{final.name}.{os.getpid()}{TMP_SUFFIX}")


def remove_stale_temps(final: Path) -> None:
    """Temporary files of killed runs (no other run writes at the same time: one run at a time)."""
    for pattern in (f".{final.name}.*{TMP_SUFFIX}", f".{final.name}.*{TMP_SUFFIX}.wal"):
        for stale in final.parent.glob(pattern):
            stale.unlink(missing_ok=True)


def replace_atomically(tmp: Path, final: Path) -> None:
    """fsync the new file, move it over the old one, fsync the folder so the move is durable."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
