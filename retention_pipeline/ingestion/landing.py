"""Finding the files of each entity in a landing folder (README: Bringing your own data).

An entity is a file (`orders.csv`, `orders.parquet`, `orders.jsonl`) or a folder `orders/` of such
files, at any depth (`orders/2026/11/21.csv`: one drop per day). Files are read in the order of
their relative paths, so date-named drops are read oldest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from retention_pipeline.ingestion.errors import LandingError
from retention_pipeline.ingestion.schema import ENTITIES, REQUIRED_ENTITIES

FileFormat = Literal["csv", "parquet", "jsonl"]
SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(frozen=True)
class LandingFile:
    entity: str
    path: Path
    relative: str  # POSIX path relative to the landing folder: the file's name in raw and the log
    format: FileFormat
    size: int
    mtime: dt.datetime  # UTC, naive, microseconds


@dataclass(frozen=True)
class Landing:
    root: Path
    files: dict[str, tuple[LandingFile, ...]] = field(default_factory=dict)

    def files_of(self, entity: str) -> tuple[LandingFile, ...]:
        return self.files.get(entity, ())

    def has(self, entity: str) -> bool:
        return bool(self.files_of(entity))


def discover_landing(landing_dir: Path | str) -> Landing:
    """The files of every entity; LandingError if the folder or a required entity is missing."""
    root = Path(landing_dir)
    if not root.is_dir():
        raise LandingError(f"landing folder {root} does not exist or is not a folder")
    files = {entity: _entity_files(root, entity) for entity in ENTITIES}
    missing = [entity for entity in REQUIRED_ENTITIES if not files[entity]]
    if missing:
        raise LandingError(
            f"landing folder {root} has no {' and no '.join(missing)} file: expected "
            + " and ".join(
                f"{e}.csv, {e}.parquet, {e}.jsonl or a folder {e}/ of such files" for e in missing
            )
            + " (see the README, Bringing your own data)"
        )
    return Landing(root=root, files={e: f for e, f in files.items() if f})


def _entity_files(root: Path, entity: str) -> tuple[LandingFile, ...]:
    candidates = [p for p in root.glob(f"{entity}.*") if p.is_file() and _format(p)]
    folder = root / entity
    if folder.is_dir():
        for path in folder.rglob("*"):
            if not path.is_file() or _ignored(path.relative_to(folder)):
                continue
            if _format(path) is None:
                raise LandingError(
                    f"unsupported file in the {entity} folder (expected .csv, .parquet, .jsonl)",
                    file=path.relative_to(root).as_posix(),
                )
            candidates.append(path)
    return tuple(
        sorted((_landing_file(root, entity, p) for p in candidates), key=lambda f: f.relative)
    )


def _ignored(relative: Path) -> bool:
    # Hidden files and markers such as _SUCCESS that export tools leave beside data files.
    return any(part.startswith((".", "_")) for part in relative.parts)


def _format(path: Path) -> FileFormat | None:
    return SUFFIXES.get(path.suffix.lower())


def _landing_file(root: Path, entity: str, path: Path) -> LandingFile:
    size, mtime = file_stat(path)
    return LandingFile(
        entity=entity,
        path=path,
        relative=path.relative_to(root).as_posix(),
        format=_format(path),
        size=size,
        mtime=mtime,
    )


def file_stat(path: Path) -> tuple[int, dt.datetime]:
    """Size and modification time (naive UTC, whole microseconds, exact: no float rounding)."""
    stat = path.stat()
    return stat.st_size, _EPOCH + dt.timedelta(microseconds=stat.st_mtime_ns // 1000)


_EPOCH = dt.datetime(1970, 1, 1)
