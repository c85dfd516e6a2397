"""Writing the landing folder: one file per entity, or one file per day for the daily drops
(and a history file before them), appended to chunk by chunk.

CSV: timestamps as ISO 8601 with an explicit offset (2026-11-21T14:03:00+00:00), dates as
YYYY-MM-DD, booleans true/false, money with two decimals, empty = missing. Parquet keeps native
types (timestamp with time zone UTC, date, boolean, decimal(18,2)); properties stay JSON text.
Files are written under a temporary name and renamed: a crash never leaves a partial file that
looks complete.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet")
_CSV_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed",
                                  batch_size=64 * 1024)
_EPOCH = dt.date(1970, 1, 1)


class LandingWriter:
    """Writes a landing folder in pieces: each `write` appends rows to the entity's files, so a
    shop of any size is written chunk by chunk with the memory of one chunk.

    `entity.<fmt>`, or with `day` (UTC day number per row, rows sorted by it) the folder
    `entity/` with one `YYYY-MM-DD.<fmt>` per day that has rows; rows of `history_day` go to
    `YYYY-MM-DD-history.<fmt>` (everything up to that day, read before the daily drops).
    Files are complete only at `close` (written under a temporary name, then renamed).
    """

    def __init__(self, out_dir: Path, fmt: str, history_day: int | None = None):
        self.out_dir, self.fmt, self.history_day = Path(out_dir), fmt, history_day
        self._open: dict[Path, _FileWriter] = {}
        self._cleared: set[str] = set()

    def write(self, entity: str, table: pa.Table, day: np.ndarray | None = None) -> None:
        if entity not in self._cleared:
            _remove_previous(self.out_dir, entity)
            self._cleared.add(entity)
        table = _for_format(table, self.fmt)
        if day is None:
            self._file(self.out_dir / f"{entity}.{self.fmt}").write(table)
            return
        folder = self.out_dir / entity
        folder.mkdir(parents=True, exist_ok=True)
        days, first = np.unique(day, return_index=True)
        bounds = np.append(first, len(day))
        for k, d in enumerate(days):
            path = folder / f"{self._day_name(int(d))}.{self.fmt}"
            self._file(path).write(table.slice(bounds[k], bounds[k + 1] - bounds[k]))

    def close(self) -> None:
        for writer in self._open.values():
            writer.close()
        self._open.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is None:
            self.close()
        else:  # nothing that looks complete after a failure
            for writer in self._open.values():
                writer.abort()

    def _day_name(self, day: int) -> str:
        name = (_EPOCH + dt.timedelta(days=day)).isoformat()
        return f"{name}-history" if day == self.history_day else name

    def _file(self, path: Path) -> _FileWriter:
        if path not in self._open:
            self._open[path] = _FileWriter(path, self.fmt)
        return self._open[path]


def write_entity(out_dir: Path, entity: str, table: pa.Table, fmt: str,
                 day: np.ndarray | None = None) -> None:
    """One whole entity at once (see LandingWriter for the layout)."""
    with LandingWriter(out_dir, fmt) as writer:
        writer.write(entity, table, day)


def _for_format(table: pa.Table, fmt: str) -> pa.Table:
    if fmt == "parquet":
        return table
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = _iso_utc(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _iso_utc(column) -> pa.ChunkedArray:
    """'2026-11-21 14:03:00' (arrow's cast, several times faster than strftime) made ISO 8601
    with an explicit offset: '2026-11-21T14:03:00+00:00'. Valid for years 1000-9999."""
    text = pc.cast(column.cast(pa.timestamp("s")), pa.string())
    text = pc.utf8_replace_slice(text, start=10, stop=11, replacement="T")
    return pc.binary_join_element_wise(text, "+00:00", "")


class _FileWriter:
    """One output file, opened at its first rows; every later table must have the same columns
    (cast to the first one's types: a chunk whose optional column is all missing still fits)."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.tmp = path.with_name(f".{path.name}.tmp")
        self._writer = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._schema = table.schema
            if self.fmt == "csv":
                self._writer = pacsv.CSVWriter(self.tmp, table.schema, write_options=_CSV_OPTIONS)
            else:
                self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self.tmp.unlink(missing_ok=True)


def _remove_previous(out_dir: Path, entity: str) -> None:
    """A landing folder has one entry per entity: drop what an earlier run wrote for it."""
    for fmt in FORMATS:
        (out_dir / f"{entity}.{fmt}").unlink(missing_ok=True)
        folder = out_dir / entity
        if folder.is_dir():
            for pattern in (f"????-??-??.{fmt}", f"????-??-??-history.{fmt}"):
                for old in folder.glob(pattern):
                    old.unlink()
    folder = out_dir / entity
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
