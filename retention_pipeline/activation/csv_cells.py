"""The text of every cell of the CRM files: each rule written once for one value (inert_text,
amount, iso_local) and applied a whole column at a time with Arrow compute (a shop of a million
customers writes millions of rows), to the same text; tests/test_export_formatting.py compares
the two on chosen and random values. CSV quoting is the csv module's, also column by column."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number or phone number (`-12.50`, `+49 30 1234-5`) cannot call a function, and a CRM
# needs the phone number as sent: left alone.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ()./-]*")


def inert_text(value: str | None, escape: bool = True) -> str | None:
    """A text cell that a spreadsheet would run as a formula, prefixed with ' (OWASP)."""
    if not escape or value is None or value == "":
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def iso_local(local: dt.datetime, utc: dt.datetime) -> str:
    """A local send time with its UTC offset: 2026-11-23T10:00:00+01:00."""
    minutes = round((_naive(local) - _naive(utc)).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{_naive(local):%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{rest:02d}"


def amount(value) -> str | None:
    """Two decimals, rounded half away from zero, whatever numeric type the engine returned."""
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _naive(value: dt.datetime) -> dt.datetime:
    """Engines that keep instants (Spark's Parquet) come back tz-aware in UTC: wall time kept."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


# inert_text and _PLAIN_NUMBER as RE2 patterns, for whole columns
_FORMULA_START_RE = r"\A[=+\-@\t\r]"
_PLAIN_NUMBER_RE = r"\A[+-]?[0-9][0-9 ()./-]*\z"


def inert_texts(values, escape: bool) -> pa.Array:
    """inert_text of every value of a column (nulls stay null)."""
    values = strings(values)
    if not escape:
        return values
    risky = pc.and_(pc.match_substring_regex(values, _FORMULA_START_RE),
                    pc.invert(pc.match_substring_regex(values, _PLAIN_NUMBER_RE)))
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


def amounts(values) -> pa.Array:
    """amount() of every value: decimals rounded by Arrow, other types value by value."""
    values = plain_array(values)
    if not pa.types.is_decimal(values.type):
        return pa.array([amount(v) for v in values.to_pylist()], pa.string())
    rounded = pc.round(values, ndigits=2, round_mode="half_towards_infinity")
    text = pc.cast(pc.cast(rounded, pa.decimal128(38, 2)), pa.string())
    # Decimal keeps the sign of a negative amount that rounds to zero: -0.004 -> '-0.00'
    negative_zero = pc.and_(pc.less(values, pa.scalar(0, values.type)),
                            pc.equal(rounded, pa.scalar(0, values.type)))
    return pc.if_else(negative_zero, "-0.00", text)


def iso_dates(values) -> pa.Array:
    """Dates as YYYY-MM-DD (date.isoformat)."""
    values = plain_array(values)
    if pa.types.is_date(values.type):
        return pc.cast(values, pa.string())
    return pa.array([None if v is None else v.isoformat() for v in values.to_pylist()], pa.string())


def whole_numbers(values) -> pa.Array:
    """Counts as plain integers (str(int(value)))."""
    values = plain_array(values)
    if pa.types.is_integer(values.type):
        return pc.cast(values, pa.string())
    return pa.array([None if v is None else str(int(v)) for v in values.to_pylist()], pa.string())


def strings(values) -> pa.Array:
    values = plain_array(values)
    return values if values.type == pa.string() else pc.cast(values, pa.string())


def plain_array(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def iso_locals(local, utc) -> pa.Array:
    """iso_local of every (local, utc) pair: the local wall time to the second, then the
    offset, formatted once per distinct offset."""
    local, utc = _naive_times(local), _naive_times(utc)
    if len(local) == 0:
        return pa.array([], pa.string())
    seconds = pc.cast(pc.subtract(local, utc), pa.duration("us")).cast(pa.int64()).to_numpy()
    minutes = np.round(seconds / 60e6).astype(np.int64)
    offsets, which = np.unique(minutes, return_inverse=True)
    suffixes = pa.array([_utc_offset(int(m)) for m in offsets], pa.string())
    wall = pc.strftime(pc.cast(local, pa.timestamp("s"), safe=False), "%Y-%m-%dT%H:%M:%S")
    return pc.binary_join_element_wise(wall, suffixes.take(pa.array(which)), "")


def _naive_times(values) -> pa.Array:
    """_naive for a column: an instant column (Spark's Parquet) keeps its UTC wall time."""
    values = plain_array(values)
    return values.cast(pa.timestamp("us")) if values.type.tz is not None else values


def _utc_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def csv_text(header: tuple[str, ...], rows: list[list]) -> str:
    """RFC 4180 CSV: comma, double quotes only where needed, LF line ends, empty for null."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", quotechar='"', lineterminator="\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)  # the csv module writes None as an empty field
    return buffer.getvalue()


def csv_text_of_cells(header: tuple[str, ...], cells: pa.Table) -> str:
    """csv_text of a table of text cells, column by column: the csv module quotes a field
    holding the delimiter, a quote or the line end (LF, but not a lone CR), doubling its quotes."""
    fields = []
    for column in cells.columns:
        values = plain_array(column)
        needs_quotes = pc.match_substring_regex(values, '[,"\n]')
        if pc.any(needs_quotes).as_py():  # most columns never need quotes: no work for them
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(values, '"', '""'), '"', "")
            values = pc.if_else(needs_quotes, quoted, values)
        fields.append(pc.fill_null(values, ""))
    head = csv_text(header, [])
    if not fields or len(fields[0]) == 0:
        return head
    # Each line with its LF; the lines' bytes are then the array's data buffer, read at once
    # (millions of Python strings cost seconds).
    lines = pc.binary_join_element_wise(*fields, ",")
    lines = pc.binary_join_element_wise(lines, "", "\n")
    return head + _concatenated(lines)


def _concatenated(values: pa.Array) -> str:
    """The texts of a string array without nulls, one after the other."""
    values = plain_array(values).cast(pa.large_string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset:values.offset + len(values) + 1]
    return values.buffers()[2][offsets[0]:offsets[-1]].to_pybytes().decode()
