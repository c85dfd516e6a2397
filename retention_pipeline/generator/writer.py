"""Writing the landing folder: one file per entity, or one file per day for the daily drops.

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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet")
_CSV_OPTIONS = pacsv.WriteOptions(include_header=True, quoting_style="needed",
                                  batch_size=64 * 1024)
_EPOCH = dt.date(1970, 1, 1)


def write_entity(out_dir: Path, entity: str, table: pa.Table, fmt: str,
                 day: np.ndarray | None = None) -> None:
    """`entity.<fmt>`, or with `day` (UTC day number per row, rows sorted by it) the folder
    `entity/` with one `YYYY-MM-DD.<fmt>` per day that has rows."""
    _remove_previous(out_dir, entity)
    table = _for_format(table, fmt)
    if day is None:
        _write(table, out_dir / f"{entity}.{fmt}", fmt)
        return
    folder = out_dir / entity
    folder.mkdir(parents=True, exist_ok=True)
    days, first = np.unique(day, return_index=True)
    bounds = np.append(first, len(day))
    for k, d in enumerate(days):
        name = (_EPOCH + dt.timedelta(days=int(d))).isoformat()
        _write(table.slice(bounds[k], bounds[k + 1] - bounds[k]), folder / f"{name}.{fmt}", fmt)


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


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        pacsv.write_csv(table, tmp, write_options=_CSV_OPTIONS)
    else:
        pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _remove_previous(out_dir: Path, entity: str) -> None:
    """A landing folder has one entry per entity: drop what an earlier run wrote for it."""
    for fmt in FORMATS:
        (out_dir / f"{entity}.{fmt}").unlink(missing_ok=True)
        folder = out_dir / entity
        if folder.is_dir():
            for old in folder.glob(f"????-??-??.{fmt}"):
                old.unlink()
    folder = out_dir / entity
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
