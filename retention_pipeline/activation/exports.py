"""The CRM files of an as-of date (docs/metrics.md#contact-policy), written atomically with a
manifest.

    <exports>/<as-of>/campaigns/<campaign>.csv   queued sends only, one file per enabled campaign
    <exports>/<as-of>/segments/<segment>.csv     members of each segment
    <exports>/<as-of>/manifest.json              rows and sha256 of every file

Atomic: everything is written into a hidden temporary folder next to the day's folder, each file
and folder is fsync'ed, the manifest is written last, and the whole folder is renamed into place
(a previous version of the day is renamed away first and deleted after). A reader sees the old
complete day, the new complete day, or (for an instant during a replacement) no folder: never a
partial file under the day's name. A crash leaves only hidden `.<as-of>.*` folders, removed by the
next run of that day.

Deterministic: rows are sorted, every value is formatted in SQL (dates ISO 8601, amounts with two
decimals, send_at as local time with its UTC offset), and the manifest holds no wall-clock time,
so re-running a day with the same data gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retention_pipeline.activation import contact_log, presets, quiet_hours, segments
from retention_pipeline.files import make_private, private_mkdir
from retention_pipeline.settings import Settings

CAMPAIGN_COLUMNS = (
    "customer_id", "channel", "address", "first_name", "language", "campaign", "context", "send_at",
)
SEGMENT_COLUMNS = (
    "customer_id", "segment", "segment_label", "rfm_segment", "member_tier", "last_order_date",
    "occasions", "net_revenue",
)
# Text columns, whose cells are neutralised when they would start a spreadsheet formula.
CAMPAIGN_TEXT = ("customer_id", "channel", "address", "first_name", "language", "campaign", "context")
SEGMENT_TEXT = ("customer_id", "segment", "segment_label", "rfm_segment", "member_tier")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MANIFEST = "manifest.json"
_SAFE_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the day's folder
    rows: int
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: tuple[ExportedFile, ...]

    def rows(self, prefix: str = "") -> dict[str, int]:
        return {f.path: f.rows for f in self.files if f.path.startswith(prefix)}


def write_exports(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date, exports_dir: Path
) -> ExportResult:
    exports_dir = private_mkdir(Path(exports_dir).resolve(), settings)
    _require_day(con, contact_log.CANDIDATES, as_of)
    _require_day(con, segments.SEGMENT_MEMBERS, as_of)
    quiet_hours.install(con)
    policy = presets.load_policy(con, settings)
    _remove_leftovers(exports_dir, as_of)

    # Private from the start (addresses, phone numbers): the staging folder is 0700 before any
    # file is written into it, and it becomes the day's folder by the rename.
    staging = exports_dir / f".{as_of.isoformat()}.tmp-{uuid.uuid4().hex}"
    private_mkdir(staging / "campaigns", settings)
    private_mkdir(staging / "segments", settings)
    escape = settings.export_escape_formulas
    files = []
    for campaign in sorted(policy.campaigns):
        sql = _campaign_sql(campaign, as_of, escape)
        files.append(_copy(con, sql, staging, f"campaigns/{campaign}.csv", settings))
    for segment in segments.exported_segments(con, as_of):
        sql = _segment_sql(segment, as_of, escape)
        files.append(_copy(con, sql, staging, f"segments/{segment}.csv", settings))
    manifest = {
        "as_of": as_of.isoformat(),
        "contact_policy_preset": policy.preset,
        # Readers must know a leading ' was added to formula-like text cells (and strip it
        # where the target system needs the value as sent).
        "formulas_escaped": escape,
        "files": {f.path: {"rows": f.rows, "sha256": f.sha256} for f in files},
    }
    _write_durably(staging / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    make_private(staging / MANIFEST, settings)
    for folder in (staging / "campaigns", staging / "segments", staging):
        _fsync_dir(folder)
    final = _swap_into_place(staging, exports_dir / as_of.isoformat())
    return ExportResult(final, tuple(files))


def verify_manifest(folder: Path) -> list[str]:
    """Problems of a written day folder (missing, extra or altered files); empty when sound."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    listed = manifest["files"]
    on_disk = {
        str(p.relative_to(folder)) for p in folder.rglob("*.csv") if p.is_file()
    }
    for path in sorted(on_disk - set(listed)):
        problems.append(f"{path}: not in the manifest")
    for path, meta in sorted(listed.items()):
        file = folder / path
        if not file.is_file():
            problems.append(f"{path}: missing")
        elif _sha256(file) != meta["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
    return problems


def inert_cell(expr: str) -> str:
    """SQL: a text cell that a spreadsheet would run as a formula, prefixed with ' (OWASP).

    A plain number or phone number (`-12.50`, `+49 30 1234-5`) is left alone: it cannot call a
    function, and a CRM needs the phone number as sent.
    """
    starts = ", ".join("chr(9)" if c == "\t" else "chr(13)" if c == "\r" else f"'{c}'"
                       for c in FORMULA_STARTS)
    return (
        f"case when left({expr}, 1) in ({starts}) "
        f"and not regexp_full_match({expr}, '[+-]?[0-9][0-9 ()./-]*') "
        f"then '''' || {expr} else {expr} end"
    )


def _text(expr: str, name: str, escape: bool) -> str:
    return f"{inert_cell(f'cast({expr} as varchar)') if escape else expr} as {name}"


def _campaign_sql(campaign: str, as_of: dt.date, escape: bool = True) -> str:
    _safe(campaign)
    texts = ", ".join(_text(c, c, escape) for c in CAMPAIGN_TEXT)
    return f"""
        select
            {texts},
            activation_iso_local(send_at_local, send_at_utc) as send_at
        from {contact_log.CANDIDATES}
        where as_of_date = date '{as_of.isoformat()}'
          and state = 'queued'
          and campaign = '{campaign}'
        order by customer_id, dedupe_key
    """


def _segment_sql(segment: str, as_of: dt.date, escape: bool = True) -> str:
    _safe(segment)
    sources = ("m.customer_id", "m.segment", "m.segment_label", "d.rfm_segment", "d.member_tier")
    texts = ", ".join(_text(e, c, escape) for e, c in zip(sources, SEGMENT_TEXT, strict=True))
    return f"""
        select
            {texts},
            strftime(d.last_occasion_date, '%Y-%m-%d') as last_order_date,
            d.occasions,
            cast(cast(d.net_revenue as decimal(18, 2)) as varchar) as net_revenue
        from {segments.SEGMENT_MEMBERS} as m
        left join marts.dim_customers as d on d.customer_id = m.customer_id
        where m.as_of_date = date '{as_of.isoformat()}'
          and m.segment = '{segment}'
        order by m.customer_id
    """


def _copy(
    con: duckdb.DuckDBPyConnection, sql: str, root: Path, relative: str, settings=None
) -> ExportedFile:
    path = root / relative
    target = str(path).replace("'", "''")
    # COPY answers with the number of rows it wrote
    rows = con.execute(
        f"copy ({sql}) to '{target}' (format csv, header true, delimiter ',', quote '\"')"
    ).fetchone()[0]
    make_private(path, settings)
    _fsync_file(path)
    return ExportedFile(relative, int(rows), _sha256(path))


def _require_day(con: duckdb.DuckDBPyConnection, table: str, as_of: dt.date) -> None:
    days = [r[0] for r in con.execute(f"select distinct as_of_date from {table}").fetchall()]
    if days and days != [as_of]:
        raise RuntimeError(f"{table} holds {days}, not {as_of}: build the day before exporting it")


def _swap_into_place(staging: Path, final: Path) -> Path:
    if final.exists():
        retired = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
        os.replace(final, retired)
        os.replace(staging, final)
        _fsync_dir(final.parent)
        shutil.rmtree(retired)
    else:
        os.replace(staging, final)
        _fsync_dir(final.parent)
    return final


def _remove_leftovers(exports_dir: Path, as_of: dt.date) -> None:
    for leftover in exports_dir.glob(f".{as_of.isoformat()}.*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe(name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe file name {name!r}")
