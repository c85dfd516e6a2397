"""Reading landing files as streams of text rows, in file order.

Each file of a chunk (load.py) becomes one SQL source (`Source.sql`) of rows shaped alike,
whatever its format:

    _file       INTEGER  the file's index in the chunk (`_ingest_files` names it)
    _row        BIGINT   1-based position in the file
    _is_object  BOOLEAN  false: not a record at all (a JSON Lines line that is not an object)
    v__<column> VARCHAR  the text of each known column, null when the file lacks the column
    _extra      JSON     the unknown columns as a JSON object, null when there are none
    _raw_line   VARCHAR  JSON Lines: the line as sent (CSV / Parquet rows are rebuilt from the
                         columns above when they are quarantined)
    _present    VARCHAR[] the known columns the file has (for rebuilding a quarantined row)
    t__<column> TIMESTAMPTZ  a timestamp column a Parquet file holds as TIMESTAMP WITH TIME ZONE,
                         as it is (its v__ text is then null): turning ten million instants into
                         text and parsing them back costs more than the rest of the checks

Parquet is not copied: its source is DuckDB's streaming `read_parquet` (row groups read as the
query consumes them; `file_row_number` gives the position), so a file of any size goes through
the checks within the DuckDB memory limit. CSV and JSON Lines are read once into a temp table of
text (DuckDB spills it to the temp directory beyond the memory limit), because DuckDB reports a
malformed record with its line number only while reading, and positions come from that table's
rowid (CREATE TABLE AS from a file keeps the file's order: preserve_insertion_order, which load.py
pins on). For CSV the position is the data record (1 = the first row after the header; blank lines
are not records, and a quoted value spanning lines is one record); for JSON Lines the physical
line; for Parquet the row index.

Typing and validation happen afterwards, in one pass over all sources of the chunk (validate.py).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention_pipeline.ingestion.errors import LandingError
from retention_pipeline.ingestion.landing import LandingFile
from retention_pipeline.ingestion.schema import EntitySchema

FILES_TABLE = "_ingest_files"
_SCAN_TABLE = "_ingest_scan_{index}"  # a text file's rows, per file of the chunk
_LANDED_TABLE = "_ingest_landed_{index}"  # a JSON Lines file's rows, split into columns

# A single header cell holding one of these means the file is not comma-separated.
FOREIGN_DELIMITERS = {";": ";", "\t": "tab", "|": "|"}
# DuckDB reads a text file in buffers of buffer_size bytes, which must hold the longest line; its
# default (16 x max_line_size) would be one buffer the size of the whole file here, so a JSON Lines
# file larger than the memory limit failed to load. Lines up to 16 MB, read 32 MB at a time.
MAX_JSONL_LINE_BYTES = 16 << 20
JSONL_BUFFER_BYTES = 2 * MAX_JSONL_LINE_BYTES
_NESTED_TYPE = re.compile(r"^(STRUCT|MAP|UNION)\(|\[\d*\]$")


@dataclass(frozen=True)
class Source:
    """One landing file as rows of text (the shape above), and the known columns it has."""

    sql: str  # a SELECT of the rows
    present: list[str]
    temp_tables: tuple[str, ...] = ()  # dropped after the chunk
    last_row: int = 0  # the largest `_row` (0: no rows); load.py reads a file in slices of rows

    def rows_between(self, first: int, last: int) -> str:
        """A SELECT of the rows whose position is in [first, last]. DuckDB pushes the range into
        the scan: a Parquet file reads only the row groups holding it, a temp table its rows."""
        if first <= 1 and last >= self.last_row:
            return self.sql
        return f"SELECT * FROM ({self.sql}) WHERE _row BETWEEN {first} AND {last}"


def open_source(
    con: duckdb.DuckDBPyConnection, file: LandingFile, index: int, schema: EntitySchema
) -> Source:
    """The file as file number `index` of the chunk; LandingError if its structure is wrong."""
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    return readers[file.format](con, file, index, schema)


def drop_sources(con: duckdb.DuckDBPyConnection, sources: list[Source]) -> None:
    for source in sources:
        for table in source.temp_tables:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def create_files_table(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """`_ingest_files`: (_file, source_file, has_lines, present columns, ingested_at) per file."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {FILES_TABLE} (
            _file INTEGER, source_file VARCHAR, has_lines BOOLEAN, present VARCHAR[],
            ingested_at TIMESTAMP
        )""")
    con.executemany(f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, ?)", rows)


def native_columns(schema: EntitySchema) -> tuple[str, ...]:
    """Columns a source may hold natively typed (`t__<name>`), not as text."""
    return tuple(c.name for c in schema.columns if c.kind == "timestamp")


def text_sql(schema: EntitySchema, name: str) -> str:
    """SQL: a column's value as sent, as text (a native timestamp rendered as DuckDB renders
    it, in the session's UTC: the text the file's value had when every value was read as text)."""
    return native_text(name) if name in native_columns(schema) else f'"v__{name}"'


def native_text(name: str) -> str:
    """SQL: the text of a column that may be held natively (`text_sql`)."""
    return f'coalesce("v__{name}", CAST("t__{name}" AS VARCHAR))'


def raw_row_sql(schema: EntitySchema) -> str:
    """The row as sent, as JSON (over the columns of a source): a JSON Lines line as it is; a
    CSV / Parquet row as an object of the columns the file has (known ones under their contract
    names) and its unknown columns."""
    entries = ", ".join(
        f"struct_pack(k := {_literal(n)}, v := {text_sql(schema, n)})" for n in schema.column_names
    )
    known = f"""to_json(map_from_entries(list_filter([{entries}],
        lambda e: list_contains(_present, e.k))))"""
    return f"""CASE
        WHEN _raw_line IS NULL THEN json_merge_patch({known}, coalesce(_extra, '{{}}'))
        WHEN json_valid(_raw_line) THEN json(_raw_line)
        ELSE to_json(_raw_line) END"""


# --- CSV -----------------------------------------------------------------------------------------


def _read_csv(con, file: LandingFile, index: int, schema: EntitySchema) -> Source:
    names = _column_names(_csv_header(file))
    mapping = _map_columns(names, schema, file)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names)))
    scan = _SCAN_TABLE.format(index=index)
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {scan} AS
            SELECT * FROM read_csv({_literal(file.path)},
                header = true, auto_detect = false, columns = {{{columns}}},
                delim = ',', quote = '"', escape = '"', strict_mode = true, null_padding = false)
        """)
    except duckdb.Error as exc:
        con.execute(f"DROP TABLE IF EXISTS temp.{scan}")
        raise _csv_error(exc, file) from None
    rows = f"SELECT rowid + 1 AS _row, * FROM {scan}"
    last_row = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]
    return Source(_columns_sql(index, schema, names, mapping, rows), list(mapping), (scan,),
                  last_row)


def _csv_header(file: LandingFile) -> list[str]:
    # utf-8-sig: a byte order mark before the header is tolerated (DuckDB skips it too).
    with open(file.path, encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle))
        except StopIteration:
            header = []
        except csv.Error as exc:
            raise LandingError(
                f"unreadable CSV header: {exc}", file=file.relative, line=1
            ) from None
    if not any(cell.strip() for cell in header):
        raise LandingError(
            "empty file: no header row (a file with a header and no rows is fine)",
            file=file.relative,
            line=1,
        )
    if len(header) == 1:
        for delimiter, label in FOREIGN_DELIMITERS.items():
            if delimiter in header[0]:
                raise LandingError(
                    f"file looks {label}-delimited; expected comma (header: {header[0][:200]!r})",
                    file=file.relative,
                    line=1,
                )
    return header


def _csv_error(exc: duckdb.Error, file: LandingFile) -> LandingError:
    # DuckDB's message: "CSV Error on Line: N", "Original Line: ...", the problem, then its reader
    # options and "possible fixes", which are about DuckDB, not about the file.
    message = str(exc)
    line = _error_line(exc)
    original = re.search(r"Original Line: ([^\n]*)", message)
    body = message.split("Possible ")[0].split("\n\n  file =")[0]
    problem = [
        part.strip()
        for part in body.splitlines()[1:]
        if part.strip() and not part.startswith("Original Line:")
    ]
    text = "; ".join(problem) or _first_line(exc)
    where = f" at line {line}" if line else ""
    quoted = f" (line reads: {original.group(1)[:200]!r})" if original else ""
    return LandingError(f"malformed CSV{where}: {text}{quoted}", file=file.relative, line=line)


def _error_line(exc: duckdb.Error) -> int | None:
    """The line DuckDB's text reader names in its error ("CSV Error on Line: N"), if any."""
    found = re.search(r"CSV Error on Line: (\d+)", str(exc))
    return int(found.group(1)) if found else None


# --- JSON Lines ----------------------------------------------------------------------------------


def _read_jsonl(con, file: LandingFile, index: int, schema: EntitySchema) -> Source:
    # Each physical line is one record: read lines verbatim (no quoting, a delimiter that valid
    # JSON text never contains), so that a broken line is quarantined instead of failing the file.
    scan, landed = _SCAN_TABLE.format(index=index), _LANDED_TABLE.format(index=index)
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {scan} AS
            SELECT line FROM read_csv({_literal(file.path)},
                header = false, auto_detect = false, columns = {{'line': 'VARCHAR'}},
                delim = '\\0', quote = '', escape = '', max_line_size = {MAX_JSONL_LINE_BYTES},
                buffer_size = {JSONL_BUFFER_BYTES})
        """)
    except duckdb.Error as exc:
        con.execute(f"DROP TABLE IF EXISTS temp.{scan}")
        raise _jsonl_error(exc, file) from None
    names = schema.column_names
    paths = ", ".join(_json_path(name) for name in names)
    values = ", ".join(f'_values[{i + 1}] AS "v__{n}"' for i, n in enumerate(names))
    # RFC 7396 merge patch: a null in the patch removes that key, leaving the unknown ones.
    known_as_null = _literal("{" + ", ".join(f'"{n}": null' for n in names) + "}")
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {landed} AS
            SELECT {index} AS _file, _row, _is_object, {values},
                   CASE WHEN _is_object THEN CAST(nullif(CAST(
                       json_merge_patch(line, {known_as_null}) AS VARCHAR), '{{}}') AS JSON) END
                       AS _extra,
                   line AS _raw_line, {_list_literal(names)} AS _present,
                   {_no_native(schema)}
            FROM (
                SELECT *, CASE WHEN _is_object THEN json_extract_string(line, [{paths}]) END
                    AS _values
                FROM (
                    SELECT rowid + 1 AS _row, line,
                           coalesce(try(json_type(line)) = 'OBJECT', false) AS _is_object
                    FROM {scan}
                    WHERE line IS NOT NULL AND trim(line) <> ''
                )
            )
        """)
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{scan}")
    try:
        _check_jsonl_keys(con, file, landed, schema)
    except LandingError:
        con.execute(f"DROP TABLE IF EXISTS temp.{landed}")
        raise
    last_row = con.execute(f"SELECT coalesce(max(_row), 0) FROM {landed}").fetchone()[0]
    return Source(f"SELECT * FROM {landed}", list(names), (landed,), last_row)


def _jsonl_error(exc: duckdb.Error, file: LandingFile) -> LandingError:
    # Quoting and delimiters are off: the only error naming a line is a line beyond max_line_size.
    line = _error_line(exc)
    if line is None:
        return LandingError(f"unreadable JSON Lines file: {_first_line(exc)}", file=file.relative)
    return LandingError(
        f"unreadable JSON Lines file: line {line} is longer than the "
        f"{MAX_JSONL_LINE_BYTES >> 20} MB a record may have",
        file=file.relative,
        line=line,
    )


def _check_jsonl_keys(con, file: LandingFile, landed: str, schema: EntitySchema) -> None:
    """A required key that no record of the file has is a missing column (a structural problem)."""
    required = schema.required_columns
    counts = ", ".join(
        f"sum(CASE WHEN _is_object THEN json_exists(_raw_line, {_json_path(n)})::INT END)"
        for n in required
    )
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE _is_object), {counts} FROM {landed}"
    ).fetchone()
    objects, present = row[0], row[1:]
    if not objects:
        return
    for name, count in zip(required, present, strict=True):
        if not count:
            raise LandingError(
                f"missing required column {name!r}: no record of the file has the key",
                file=file.relative,
                column=name,
            )


# --- Parquet -------------------------------------------------------------------------------------


def _read_parquet(con, file: LandingFile, index: int, schema: EntitySchema) -> Source:
    # Only the footer is read here; the rows stream when the chunk's checks run (load.py names
    # the file if a page turns out unreadable then).
    source = f"read_parquet({_literal(file.path)}, file_row_number = true)"
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_literal(file.path)})"
        ).fetchall()
        # The footer's row count: no page is read.
        last_row = con.execute(
            f"SELECT count(*) FROM read_parquet({_literal(file.path)})"
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise LandingError(
            f"unreadable Parquet file: {_first_line(exc)}", file=file.relative
        ) from None
    names = [row[0] for row in described]
    mapping = _map_columns(names, schema, file)
    native = {
        name: mapping[name]
        for name in native_columns(schema)
        if name in mapping and described[mapping[name]][1] == "TIMESTAMP WITH TIME ZONE"
    }
    casts = ", ".join(
        f"{_ident(name)} AS t{i}" if i in native.values()
        else f"{_as_text(_ident(name), sql_type)} AS c{i}"
        for i, (name, sql_type, *_) in enumerate(described)
    )
    rows = f"SELECT file_row_number + 1 AS _row, {casts} FROM {source}"
    return Source(_columns_sql(index, schema, names, mapping, rows, native), list(mapping),
                  last_row=last_row)


def _as_text(column: str, sql_type: str) -> str:
    # Nested values become JSON text (a cast would give DuckDB's own struct literal syntax).
    # TIMESTAMPTZ renders in the session time zone, pinned to UTC by load.py.
    if _NESTED_TYPE.search(sql_type):
        return f"CAST(to_json({column}) AS VARCHAR)"
    return f"CAST({column} AS VARCHAR)"


# --- shared --------------------------------------------------------------------------------------


def _columns_sql(
    index: int, schema: EntitySchema, names, mapping, rows: str, native: dict[str, int] | None = None
) -> str:
    """Rows of positional text columns c0.. (native ones t0..; and _row) -> the source shape of
    this module."""
    native = native or {}
    values = ", ".join(
        f's.c{mapping[n]} AS "v__{n}"' if n in mapping and n not in native
        else f'NULL::VARCHAR AS "v__{n}"'
        for n in schema.column_names
    )
    typed = ", ".join(
        f'CAST(s.t{native[n]} AS TIMESTAMPTZ) AS "t__{n}"' if n in native
        else f'NULL::TIMESTAMPTZ AS "t__{n}"'
        for n in native_columns(schema)
    )
    extras = [(name, f"s.c{i}") for i, name in enumerate(names) if i not in mapping.values()]
    return f"""
        SELECT {index} AS _file, s._row, true AS _is_object, {values},
               {_text_object(extras)} AS _extra, NULL::VARCHAR AS _raw_line,
               {_list_literal(list(mapping))} AS _present{", " + typed if typed else ""}
        FROM ({rows}) s"""


def _no_native(schema: EntitySchema) -> str:
    return ", ".join(f'NULL::TIMESTAMPTZ AS "t__{n}"' for n in native_columns(schema)) or "NULL AS _no_native"


def _column_names(header: list[str]) -> list[str]:
    # A header cell left empty (a trailing comma) still names a column, for `_extra`.
    return [cell.strip() or f"column_{i + 1}" for i, cell in enumerate(header)]


def _map_columns(names: list[str], schema: EntitySchema, file: LandingFile) -> dict[str, int]:
    """Known column -> position in the file; names match case-insensitively, trimmed."""
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        if name.strip().lower() in positions:
            raise LandingError(f"duplicate column {name!r}", file=file.relative, column=name)
        positions[name.strip().lower()] = i
    for required in schema.required_columns:
        if required not in positions:
            raise LandingError(
                f"missing required column {required!r} (columns found: {', '.join(names)})",
                file=file.relative,
                column=required,
            )
    return {name: positions[name] for name in schema.column_names if name in positions}


def _text_object(pairs: list[tuple[str, str]]) -> str:
    """A JSON object of the non-empty text values, or NULL when there are none."""
    if not pairs:
        return "CAST(NULL AS JSON)"
    entries = ", ".join(f"struct_pack(k := {_literal(name)}, v := {expr})" for name, expr in pairs)
    return f"""CAST(nullif(CAST(to_json(map_from_entries(list_filter([{entries}],
        lambda e: e.v IS NOT NULL AND e.v <> ''))) AS VARCHAR), '{{}}') AS JSON)"""


def _first_line(exc: duckdb.Error) -> str:
    return re.sub(r"^.*?Error: ", "", str(exc).strip().splitlines()[0], count=1)


def _literal(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _list_literal(values) -> str:
    return "CAST([" + ", ".join(_literal(v) for v in values) + "] AS VARCHAR[])"


def _json_path(key: str) -> str:
    return _literal('$."' + key + '"')


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
