"""Ingesting one entity for one batch date: new files -> raw.<entity>, quarantine, ingest_log.

1. Skip each file that raw.ingest_log already has with the same size and mtime, or else with the
   same SHA-256 (a daily run's cost follows the new files). Hashing also checks UTF-8.
2. Read the new files, in order of relative path, in chunks of up to CHUNK_BYTES (so a first
   load of years of daily drops is planned a few times, not once per file; a file larger than
   that is a chunk of its own). Each file is a stream of text rows (readers.py: Parquet read
   by DuckDB's streaming scan, row group by row group; CSV / JSON Lines through a temp table of
   text). Set-based SQL over the chunk, each step streaming through DuckDB's operators:
   a. the key columns alone, over the whole chunk: which keys may collide (suspects,
      duplicates.py);
   b. slice by slice (SLICE_ROWS rows; a Parquet file reads only the row groups of the slice):
      one pass typing and checking every row (validate.py) into a temp table of the slice; its
      rows whose key cannot collide are appended to raw (or kept aside for quarantine) at once,
      its suspect rows are kept aside;
   c. the suspect rows of all slices: duplicates and conflicts against the chunk and raw.
   Memory is DuckDB's and bounded by the slice: no temp table holds a whole file's typed rows,
   its operators spill to `duckdb_temp_directory` beyond `duckdb_memory_limit`, and nothing of
   a file is held in Python.
3. One transaction per chunk holds its raw rows, its quarantined rows and one ingest_log row per
   file. A structural error in any file of a chunk writes nothing of it, and a crash (killed
   process, full disk) before the commit leaves nothing of the chunk: no rows and no ingest_log
   row, so the next run reads the files again.

The session time zone is pinned to UTC (timestamps without offset are UTC, and TIMESTAMPTZ text
renders as UTC) and insertion order is preserved (line numbers), then both are restored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention_pipeline.ingestion.counts import ChunkCounts, unknown_status_sql
from retention_pipeline.ingestion.duplicates import (
    CLASSIFIED_TABLE,
    TEMP_TABLES,
    classify_unsuspected_sql,
    collect_suspects_sql,
    settle_statements,
    suspect_sql,
    suspects_table_sql,
)
from retention_pipeline.ingestion.errors import LandingError
from retention_pipeline.ingestion.fingerprint import fingerprint
from retention_pipeline.ingestion.landing import Landing, LandingFile, discover_landing, file_stat
from retention_pipeline.ingestion.readers import (
    FILES_TABLE,
    Source,
    create_files_table,
    drop_sources,
    open_source,
)
from retention_pipeline.ingestion.schema import (
    ENTITIES,
    INGEST_LOG_DDL,
    INGEST_LOG_TABLE,
    INGEST_LOG_UPGRADE,
    QUARANTINE_DDL,
    QUARANTINE_TABLE,
    QUARANTINE_UPGRADE,
    RAW_SCHEMA,
    EntitySchema,
    raw_table,
    raw_table_ddl,
    schema_for,
)
from retention_pipeline.ingestion.stats import KEPT_ANOMALIES, FileStats, IngestStats
from retention_pipeline.ingestion.validate import CHECKED_TABLE, checked_table_sql, future_cutoff

CHUNK_BYTES = 256 << 20  # files read and checked together, up to this size (one file at least)
# Rows typed and checked at once: a slice's checked rows stay in memory (a few hundred MB), so a
# file of any size streams into raw without a temp table of all its rows spilling to disk.
SLICE_ROWS = 4_000_000
Progress = Callable[[str], None]
NOTED_TABLE = "_ingest_noted"  # the chunk's rows that get a quarantine record


@dataclass(frozen=True)
class _NewFile:
    file: LandingFile
    size: int | None
    mtime: dt.datetime | None
    sha256: str | None
    # A database read staged as Parquet: logged as this format, with its cursor, not a file's.
    log_format: str | None = None
    cursor: dt.datetime | None = None


def ingest_entity(
    con: duckdb.DuckDBPyConnection,
    landing: Landing | Path | str,
    entity: str,
    batch_date: dt.date,
    *,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> IngestStats:
    """Load the entity's new landing files for `batch_date`; the raw tables exist afterwards.

    `now` (naive UTC) is the reference for `future_timestamp` during backfills; tests pin it.
    `progress` gets a line after each slice of a chunk read in several (a first load of
    100 M events takes minutes; the Dagster asset logs them).
    Raises LandingError (structural problem, naming the file; nothing of its chunk is written)
    or ValueError (unknown entity).
    """
    schema = schema_for(entity)
    if not isinstance(landing, Landing):
        landing = discover_landing(landing)
    cutoff = future_cutoff(batch_date, now or _utc_now())
    with _ingest_session(con):
        ensure_raw_tables(con)
        skipped, new = _sort_out(con, landing.files_of(entity))
        read: list[FileStats] = []
        for chunk in _chunks(new):
            read += _ingest_chunk(con, chunk, schema, batch_date, cutoff, progress)
        by_file = {f.source_file: f for f in [*skipped, *read]}
        files = tuple(by_file[f.relative] for f in landing.files_of(entity))
        return batch_stats(con, entity, batch_date, files)


def ingest_staged(
    con: duckdb.DuckDBPyConnection,
    staged: LandingFile,
    batch_date: dt.date,
    *,
    log_format: str,
    cursor: dt.datetime | None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> IngestStats:
    """Load one staged file (a shop database read written to Parquet, `staged.relative` like
    'db:orders') through the same checks as landing files; its ingest_log row has `cursor` in
    source_cursor, in the same transaction as the rows (no half-advanced cursor)."""
    schema = schema_for(staged.entity)
    cutoff = future_cutoff(batch_date, now or _utc_now())
    with _ingest_session(con):
        ensure_raw_tables(con)
        new = _NewFile(staged, None, None, None, log_format=log_format, cursor=cursor)
        stats = _ingest_chunk(con, [new], schema, batch_date, cutoff, progress)
        return batch_stats(con, staged.entity, batch_date, tuple(stats))


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every raw table, empty if need be, so that dbt sources exist for a shop without events."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for entity in ENTITIES:
        con.execute(raw_table_ddl(entity))
        # A warehouse of an earlier version gains the columns added to the contract since
        # (e.g. the orders' delivery times); its earlier rows hold null there.
        for c in schema_for(entity).columns:
            con.execute(
                f'ALTER TABLE {raw_table(entity)} ADD COLUMN IF NOT EXISTS "{c.name}" {c.sql_type}'
            )
    con.execute(QUARANTINE_DDL)
    con.execute(INGEST_LOG_DDL)
    for statement in QUARANTINE_UPGRADE:
        con.execute(statement.format(table=QUARANTINE_TABLE))
    for statement in INGEST_LOG_UPGRADE:
        con.execute(statement.format(table=INGEST_LOG_TABLE))


def batch_stats(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    batch_date: dt.date,
    files: tuple[FileStats, ...] = (),
) -> IngestStats:
    """The batch's totals from raw.ingest_log: the latest read of each file for this date."""
    rows = con.execute(
        f"""
        SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate,
               CAST(quarantine_reasons AS VARCHAR), CAST(kept_anomalies AS VARCHAR),
               coalesce(fields_nulled, 0), CAST(field_reasons AS VARCHAR)
        FROM {INGEST_LOG_TABLE}
        WHERE entity = ? AND batch_date = ?
        QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY ingested_at DESC) = 1
        """,
        [entity, batch_date],
    ).fetchall()
    reasons: Counter[str] = Counter()
    anomalies: Counter[str] = Counter({name: 0 for name in KEPT_ANOMALIES.get(entity, ())})
    field_reasons: Counter[str] = Counter()
    for row in rows:
        reasons.update(json.loads(row[4] or "{}"))
        anomalies.update(json.loads(row[5] or "{}"))
        field_reasons.update(json.loads(row[7] or "{}"))
    return IngestStats(
        entity=entity,
        batch_date=batch_date,
        files=files,
        rows_read=sum(r[0] for r in rows),
        rows_loaded=sum(r[1] for r in rows),
        rows_quarantined=sum(r[2] for r in rows),
        rows_duplicate=sum(r[3] for r in rows),
        quarantine_reasons=dict(reasons),
        kept_anomalies=dict(anomalies),
        fields_nulled=sum(r[6] for r in rows),
        field_reasons=dict(field_reasons),
    )


@contextmanager
def _ingest_session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    saved = con.execute(
        "SELECT current_setting('TimeZone'), current_setting('preserve_insertion_order')"
    ).fetchone()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        time_zone = str(saved[0]).replace("'", "''")
        con.execute(f"SET TimeZone = '{time_zone}'")
        con.execute(f"SET preserve_insertion_order = {str(saved[1]).lower()}")


# --- which files are new -------------------------------------------------------------------------


def _sort_out(con, files: tuple[LandingFile, ...]) -> tuple[list[FileStats], list[_NewFile]]:
    """Files already ingested (skipped) and new or changed files (with their hash)."""
    if not files:
        return [], []
    latest: dict[str, tuple[int, dt.datetime]] = {}
    hashes: set[tuple[str, str]] = set()
    for source_file, size, mtime, sha256, is_latest in con.execute(
        f"""SELECT source_file, file_size, file_mtime, content_sha256,
                   row_number() OVER (PARTITION BY source_file ORDER BY ingested_at DESC) = 1
            FROM {INGEST_LOG_TABLE} WHERE entity = ?""",
        [files[0].entity],
    ).fetchall():
        hashes.add((source_file, sha256))
        if is_latest:
            latest[source_file] = (size, mtime)
    skipped, new = [], []
    for file in files:
        size, mtime = file_stat(file.path)
        # Same size and modification time as the last read: unchanged without reading it (the
        # rsync heuristic). Anything else is hashed, and skipped only if that content was read.
        if latest.get(file.relative) == (size, mtime):
            skipped.append(FileStats(file.relative, file.format, True, "unchanged"))
            continue
        sha256 = fingerprint(file.path, file.relative, check_utf8=file.format != "parquet")
        if (file.relative, sha256) in hashes:
            skipped.append(FileStats(file.relative, file.format, True, "same_content"))
            continue
        new.append(_NewFile(file, size, mtime, sha256))
    return skipped, new


def _chunks(files: list[_NewFile]) -> Iterator[list[_NewFile]]:
    chunk: list[_NewFile] = []
    for new in files:
        if chunk and sum(f.size for f in chunk) + new.size > CHUNK_BYTES:
            yield chunk
            chunk = []
        chunk.append(new)
    if chunk:
        yield chunk


# --- one chunk -----------------------------------------------------------------------------------


def _ingest_chunk(
    con, chunk: list[_NewFile], schema: EntitySchema, batch_date: dt.date, cutoff: dt.datetime,
    progress: Progress | None = None,
) -> list[FileStats]:
    sources: list[Source] = []
    try:
        for i, f in enumerate(chunk):
            sources.append(open_source(con, f.file, i, schema))
        first = _next_ingested_at(con)
        # Strictly increasing per file: staging orders versions by _ingested_at, then file.
        create_files_table(
            con,
            [
                (
                    i,
                    f.file.relative,
                    f.file.format != "parquet",
                    sources[i].present,
                    first + dt.timedelta(microseconds=i),
                )
                for i, f in enumerate(chunk)
            ],
        )
        landed = _union([source.sql for source in sources])
        raw_has_rows = con.execute(f"SELECT 1 FROM {raw_table(schema.name)} LIMIT 1").fetchone()
        with _streaming_errors(chunk):
            con.execute(suspects_table_sql(schema, landed, raw_has_rows is not None))
        return _load_slices(con, chunk, sources, schema, batch_date, cutoff, progress)
    finally:
        drop_sources(con, sources)
        con.execute(f"DROP VIEW IF EXISTS temp.{CLASSIFIED_TABLE}")
        for table in (CHECKED_TABLE, FILES_TABLE, NOTED_TABLE, *TEMP_TABLES):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _load_slices(
    con, chunk: list[_NewFile], sources: list[Source], schema: EntitySchema,
    batch_date: dt.date, cutoff: dt.datetime, progress: Progress | None = None,
) -> list[FileStats]:
    """One transaction: each slice's rows are checked, its rows that cannot collide are appended
    to raw at once and its suspect rows kept aside; the suspects are settled once all are in (the
    duplicate rules compare the whole chunk); then the quarantine records and the ingest_log rows.
    A failure anywhere rolls all of it back."""
    counts = ChunkCounts(len(chunk), schema)
    pieces = list(_slices(sources))
    total = sum(source.last_row for source in sources)
    report = progress if len(pieces) > 1 else None  # a chunk read at once says nothing
    con.begin()
    try:
        for number, piece in enumerate(pieces):
            with _streaming_errors(chunk):
                con.execute(checked_table_sql(schema, cutoff, piece, suspect_sql(schema)))
            con.execute(collect_suspects_sql(schema, first=number == 0))
            con.execute(classify_unsuspected_sql())
            counts.add_read(con)
            _load_classified(con, schema, counts, batch_date, first=number == 0)
            if report is not None:
                report(f"{schema.name}: slice {number + 1} of {len(pieces)} checked "
                       f"({sum(counts.read):,} of {total:,} rows of {len(chunk)} file(s))")
        if report is not None:
            report(f"{schema.name}: settling the rows that may repeat another slice's")
        for statement in settle_statements(schema):
            con.execute(statement)
        _load_classified(con, schema, counts, batch_date, first=False)
        stats = counts.file_stats(chunk)
        _write_records(con, chunk, schema, stats, batch_date)
        con.commit()
        return stats
    except BaseException:
        con.rollback()
        raise


def _slices(sources: list[Source]) -> Iterator[str]:
    """SELECTs of the chunk's rows, SLICE_ROWS at a time, in file and row order: small files go
    together, a large one is cut into ranges of rows. At least one, even when there are no rows."""
    parts: list[str] = []
    size, yielded = 0, False
    for source in sources:
        first = 1
        while first <= source.last_row:
            last = min(source.last_row, first + SLICE_ROWS - size - 1)
            parts.append(source.rows_between(first, last))
            size += last - first + 1
            first = last + 1
            if size >= SLICE_ROWS:
                yield _union(parts)
                parts, size, yielded = [], 0, True
    if parts or not yielded:
        yield _union(parts or [source.sql for source in sources])


def _union(selects: list[str]) -> str:
    return "\n        UNION ALL\n".join(selects)


@contextmanager
def _streaming_errors(chunk: list[_NewFile]) -> Iterator[None]:
    """A Parquet file whose pages cannot be read shows it only while streamed: a LandingError
    naming the file (the one DuckDB's message names, else the chunk's only Parquet file)."""
    try:
        yield
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise
        message = str(exc)
        parquet = [f.file for f in chunk if f.file.format == "parquet"]
        named = [f for f in parquet if str(f.path) in message] or parquet[:1]
        if not named or "arquet" not in message:
            raise
        first_line = message.strip().splitlines()[0]
        raise LandingError(f"unreadable Parquet file: {first_line}", file=named[0].relative) from None


def _load_classified(
    con, schema: EntitySchema, counts: ChunkCounts, batch_date: dt.date, first: bool
) -> None:
    """The rows now in `_ingest_classified`: counted, the loaded ones appended to raw, and those
    that get a quarantine record kept aside for `_write_records` (`first`: create that table)."""
    counts.add_classified(con)
    columns = ", ".join(f'c."{name}"' for name in schema.column_names)
    con.execute(
        f"""INSERT INTO {raw_table(schema.name)} BY NAME
            SELECT {columns}, f.source_file AS _source_file,
                   CASE WHEN f.has_lines THEN c._row END AS _source_line,
                   CAST(? AS DATE) AS _batch_date, f.ingested_at AS _ingested_at, c._extra
            FROM {CLASSIFIED_TABLE} c JOIN {FILES_TABLE} f USING (_file)
            WHERE c._outcome = 'loaded'""",
        [batch_date],
    )
    noted = "c._outcome = 'quarantined' OR (c._outcome = 'loaded' AND c._fields IS NOT NULL)"
    if schema.name == "orders":
        noted += f" OR (c._outcome = 'loaded' AND {unknown_status_sql()})"
    rows = f"SELECT * FROM {CLASSIFIED_TABLE} c WHERE {noted}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {NOTED_TABLE} AS {rows}" if first
                else f"INSERT INTO {NOTED_TABLE} BY NAME {rows}")


def _record_unknown_statuses(con, batch_date: dt.date) -> None:
    """Loaded orders whose status is neither the contract's nor mapped by the seed get a
    quarantine record of level 'kept': the order stays in raw (a shop-specific status is not
    wrong data, and counts once the seed maps it), but the table that lists what needs a look
    names the row, the status and the reason."""
    con.execute(
        f"""INSERT INTO {QUARANTINE_TABLE} BY NAME
            SELECT 'orders' AS entity, f.source_file, c._row AS source_line,
                   'kept' AS level, 'unknown_status' AS reason, 'status' AS column_name,
                   c.status AS value,
                   'status is neither a contract status nor mapped in seed order_status_map: '
                   || 'the order is loaded and is not a valid purchase until the seed maps it'
                   AS detail,
                   CAST(? AS DATE) AS _batch_date, f.ingested_at AS _ingested_at
            FROM {NOTED_TABLE} c JOIN {FILES_TABLE} f USING (_file)
            WHERE c._outcome = 'loaded' AND {unknown_status_sql()}
            ORDER BY c._id""",
        [batch_date],
    )


def _write_records(
    con, chunk: list[_NewFile], schema: EntitySchema, stats: list[FileStats], batch_date: dt.date
) -> None:
    """The chunk's quarantine records (in file and row order) and one ingest_log row per file,
    in the transaction of its raw rows."""
    con.execute(
        f"""INSERT INTO {QUARANTINE_TABLE} BY NAME
            SELECT CAST(? AS VARCHAR) AS entity, f.source_file, c._row AS source_line,
                   'row' AS level, c._reason AS reason, c._detail AS detail,
                   c._raw_row AS raw_row,
                   CAST(? AS DATE) AS _batch_date, f.ingested_at AS _ingested_at
            FROM {NOTED_TABLE} c
            JOIN {FILES_TABLE} f USING (_file)
            WHERE c._outcome = 'quarantined' ORDER BY c._id""",
        [schema.name, batch_date],
    )
    # Field-level records of the loaded rows: the row is in raw with the value nulled.
    con.execute(
        f"""INSERT INTO {QUARANTINE_TABLE} BY NAME
            SELECT CAST(? AS VARCHAR) AS entity, f.source_file, c._row AS source_line,
                   'field' AS level, c.x.reason AS reason, c.x.column_name AS column_name,
                   c.x.value AS value, c.x.detail AS detail,
                   CAST(? AS DATE) AS _batch_date, f.ingested_at AS _ingested_at
            FROM (SELECT _id, _file, _row, unnest(_fields) AS x FROM {NOTED_TABLE}
                  WHERE _outcome = 'loaded' AND _fields IS NOT NULL) c
            JOIN {FILES_TABLE} f USING (_file)
            ORDER BY c._id, c.x.column_name""",
        [schema.name, batch_date],
    )
    if schema.name == "orders":
        _record_unknown_statuses(con, batch_date)
    # Explicit columns: upgrades append columns to ingest_log, so positions are not stable.
    con.executemany(
        f"""INSERT INTO {INGEST_LOG_TABLE} (entity, source_file, batch_date, ingested_at,
                file_format, file_size, file_mtime, content_sha256, rows_read, rows_loaded,
                rows_quarantined, rows_duplicate, quarantine_reasons, kept_anomalies,
                fields_nulled, field_reasons, source_cursor)
            SELECT ?, ?, ?, ingested_at, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS JSON),
                   CAST(? AS JSON), ?, CAST(? AS JSON), CAST(? AS TIMESTAMP)
            FROM {FILES_TABLE} WHERE _file = ?""",
        [
            [
                schema.name,
                f.file.relative,
                batch_date,
                f.log_format or f.file.format,
                f.size,
                f.mtime,
                s.content_sha256,
                s.rows_read,
                s.rows_loaded,
                s.rows_quarantined,
                s.rows_duplicate,
                json.dumps(s.quarantine_reasons, sort_keys=True),
                json.dumps(s.kept_anomalies, sort_keys=True),
                s.fields_nulled,
                json.dumps(s.field_reasons, sort_keys=True),
                f.cursor,
                i,
            ]
            for i, (f, s) in enumerate(zip(chunk, stats, strict=True))
        ],
    )


def _next_ingested_at(con) -> dt.datetime:
    now = _utc_now()
    last = con.execute(f"SELECT max(ingested_at) FROM {INGEST_LOG_TABLE}").fetchone()[0]
    if last is not None and now <= last:
        return last + dt.timedelta(microseconds=1)
    return now


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
