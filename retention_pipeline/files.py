"""Files that hold personal data (the warehouse, CRM exports, serving copies with personal data)
are private: mode 0600 and folders 0700, or 0640 / 0750 with `private_files_group_readable` (for
a group such as the CRM uploader's). Other users of the machine read none of them.

The folder mode is what keeps others out while a file is being written (DuckDB and COPY create
files with the process umask); the file mode keeps them out when a file is moved or copied on.
Only folders created here are given the private mode: a folder the user made is theirs to set.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE, GROUP_FILE_MODE = 0o600, 0o640
DIR_MODE, GROUP_DIR_MODE = 0o700, 0o750


def private_file_mode(settings=None) -> int:
    return GROUP_FILE_MODE if _group_readable(settings) else FILE_MODE


def private_dir_mode(settings=None) -> int:
    return GROUP_DIR_MODE if _group_readable(settings) else DIR_MODE


def make_private(path: Path, settings=None) -> None:
    """Give an existing file (or folder) the private mode; a missing path is left alone."""
    path = Path(path)
    if path.is_dir():
        os.chmod(path, private_dir_mode(settings))
    elif path.exists():
        os.chmod(path, private_file_mode(settings))


def private_mkdir(folder: Path, settings=None) -> Path:
    """Create `folder` and its missing parents, each new one with the private folder mode."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, private_dir_mode(settings))
    return folder


def _group_readable(settings) -> bool:
    return bool(getattr(settings, "private_files_group_readable", False))
