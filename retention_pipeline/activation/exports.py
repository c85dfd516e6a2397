"""The CRM files of an as-of date (docs/metrics.md#contact-policy), written atomically with a
manifest.

    <exports>/<as-of>/campaigns/<campaign>.csv   queued sends only, one file per enabled campaign
    <exports>/<as-of>/segments/<segment>.csv     members of each segment
    <exports>/<as-of>/manifest.json              rows and sha256 of every file

The rows come from the dbt target (marts.campaign_candidates, marts.segment_members,
marts.dim_customers and the contact-policy seed, read through retention_pipeline.targets.read), so
the files are the same whichever engine built the models.

Atomic: everything is written into a hidden temporary folder next to the day's folder, each file
and folder is fsync'ed, the manifest is written last, and the whole folder is renamed into place
(a previous version of the day is renamed away first and deleted after). A reader sees the old
complete day, the new complete day, or (for an instant during a replacement) no folder: never a
partial file under the day's name. A crash leaves only hidden `.<as-of>.*` folders, removed by the
next run of that day.

Deterministic: rows are sorted, every value is formatted here, explicitly (dates ISO 8601, amounts
with two decimals, send_at as local time with its UTC offset, text as the target holds it), never
by an engine's or a library's default rendering, and the manifest holds no wall-clock time: the same
data give byte-identical files, on every dbt target.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import os
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from retention_pipeline.activation import segments
from retention_pipeline.files import make_private, private_mkdir
from retention_pipeline.settings import Settings
from retention_pipeline.targets.read import read_table

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
# A plain number or phone number (`-12.50`, `+49 30 1234-5`) cannot call a function, and a CRM
# needs the phone number as sent: left alone.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ()./-]*")
MANIFEST = "manifest.json"
_SAFE_NAME = re.compile(r"^[a-z0-9_]+$")


class ExportError(RuntimeError):
    """The day's tables in the target are not the day asked for, or the preset is unknown."""


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


def write_exports(settings: Settings, as_of: dt.date, exports_dir: Path) -> ExportResult:
    """Write the day's files from the dbt target's tables."""
    # Grouped once (a shop of a million customers has millions of candidates and members; only
    # the queued candidates become rows).
    queued = _grouped(_day_rows(settings, "campaign_candidates", as_of, [
        "campaign", "state", "dedupe_key", *CAMPAIGN_TEXT, "send_at_local", "send_at_utc"],
        only=("state", "queued")), "campaign")
    members = _segment_runs(_day_table(settings, "segment_members", as_of,
                                       ["segment", "segment_label", "customer_id"]))
    customers = _CustomerColumns(settings, settings.export_escape_formulas)
    enabled = enabled_campaigns(settings)

    exports_dir = private_mkdir(Path(exports_dir).resolve(), settings)
    _remove_leftovers(exports_dir, as_of)
    # Private from the start (addresses, phone numbers): the staging folder is 0700 before any
    # file is written into it, and it becomes the day's folder by the rename.
    staging = exports_dir / f".{as_of.isoformat()}.tmp-{uuid.uuid4().hex}"
    private_mkdir(staging / "campaigns", settings)
    private_mkdir(staging / "segments", settings)
    escape = settings.export_escape_formulas
    files = []
    for campaign in sorted(enabled):
        rows = sorted(queued.get(campaign, []), key=lambda r: (r["customer_id"], r["dedupe_key"]))
        files.append(_write_csv(staging, f"campaigns/{_safe(campaign)}.csv", CAMPAIGN_COLUMNS,
                                [_campaign_row(r, escape) for r in rows], settings))
    for segment in segments.exported_segments(set(members)):
        files.append(_write_csv(staging, f"segments/{_safe(segment)}.csv", SEGMENT_COLUMNS,
                                customers.segment_rows(segment, *members.get(segment, ((), ()))),
                                settings))
    manifest = {
        "as_of": as_of.isoformat(),
        "contact_policy_preset": settings.contact_policy_preset,
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


def enabled_campaigns(settings: Settings) -> list[str]:
    """The enabled campaigns of the preset in force (seed contact_policy_campaigns)."""
    seed = read_table(settings, "seeds", "contact_policy_campaigns",
                      ["preset", "campaign", "enabled"]).to_pylist()
    presets = {r["preset"] for r in seed}
    if settings.contact_policy_preset not in presets:
        raise ExportError(f"contact_policy_preset {settings.contact_policy_preset!r} is not in "
                          f"seeds.contact_policy_campaigns (known: {sorted(presets)})")
    return sorted(r["campaign"] for r in seed
                  if r["preset"] == settings.contact_policy_preset and r["enabled"])


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


def _campaign_row(row: dict, escape: bool) -> list:
    texts = [inert_text(_text(row[c]), escape) for c in CAMPAIGN_TEXT]
    return [*texts, iso_local(row["send_at_local"], row["send_at_utc"])]


class _CustomerColumns:
    """The dim_customers columns of the segment files, each customer's formatted once.

    A million customers sit in two million segment rows: the customer's part of a row (the
    escaped id, RFM segment, tier, last occasion, occasions, revenue) is formatted the first
    time the customer appears and reused, and the few distinct labels are escaped once each."""

    def __init__(self, settings: Settings, escape: bool):
        table = read_table(settings, "marts", "dim_customers", [
            "customer_id", "rfm_segment", "member_tier", "last_occasion_date", "occasions",
            "net_revenue"]).to_pydict()
        self._columns = table
        self._row_of = {c: i for i, c in enumerate(table["customer_id"])}
        self._escape = escape
        self._formatted: dict[str, tuple] = {}
        self._label = functools.cache(lambda value: inert_text(_text(value), escape))

    def segment_rows(self, segment: str, customer_ids, labels) -> list[list]:
        """The rows of one segment's file (customer_ids and labels: its members, in order)."""
        escaped, rows = self._label(segment), []
        for customer_id, label in zip(customer_ids, labels, strict=True):
            part = self._formatted.get(customer_id)
            if part is None:
                part = self._formatted[customer_id] = self._customer_part(customer_id)
            rows.append([part[0], escaped, self._label(label), *part[1:]])
        return rows

    def _customer_part(self, customer_id: str) -> tuple:
        escaped_id = inert_text(_text(customer_id), self._escape)
        row = self._row_of.get(customer_id)
        if row is None:
            return (escaped_id, None, None, None, None, None)
        c = self._columns
        last, occasions = c["last_occasion_date"][row], c["occasions"][row]
        return (
            escaped_id,
            self._label(c["rfm_segment"][row]),
            self._label(c["member_tier"][row]),
            last.isoformat() if last is not None else None,
            None if occasions is None else str(int(occasions)),
            amount(c["net_revenue"][row]),
        )


def _day_rows(settings: Settings, table: str, as_of: dt.date, columns: list[str],
              only: tuple[str, str] | None = None) -> list[dict]:
    """The table's rows (those whose column only[0] equals only[1]), which must all be of as_of."""
    return _day_table(settings, table, as_of, columns, only).to_pylist()


def _day_table(settings: Settings, table: str, as_of: dt.date, columns: list[str],
               only: tuple[str, str] | None = None) -> pa.Table:
    """_day_rows as an Arrow table."""
    rows = read_table(settings, "marts", table, ["as_of_date", *columns])
    days = sorted(d for d in pc.unique(rows["as_of_date"]).to_pylist() if d is not None)
    if days and days != [as_of]:
        raise ExportError(f"marts.{table} holds {days}, not {as_of}: build the day before "
                          "exporting it")
    if only is not None:
        rows = rows.filter(pc.equal(rows[only[0]], only[1]))
    return rows


def _segment_runs(members: pa.Table) -> dict[str, tuple[list, list]]:
    """{segment: (customer ids, labels)} of segment_members, each segment by customer_id.

    Arrow's sort is stable and orders text by its UTF-8 bytes, which is the code-point order
    of Python's: the same order as sorting each segment's rows in Python."""
    ordered = members.sort_by([("segment", "ascending"), ("customer_id", "ascending")])
    columns = ordered.select(["segment", "customer_id", "segment_label"]).to_pydict()
    segments, ids, labels = columns["segment"], columns["customer_id"], columns["segment_label"]
    runs: dict[str, tuple[list, list]] = {}
    start = 0
    for end in range(1, len(segments) + 1):
        if end == len(segments) or segments[end] != segments[start]:
            runs[segments[start]] = (ids[start:end], labels[start:end])
            start = end
    return runs


def _grouped(rows: list[dict], column: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[column]].append(row)
    return groups


def _write_csv(root: Path, relative: str, header: tuple[str, ...], rows: list[list],
               settings: Settings) -> ExportedFile:
    """RFC 4180 CSV: comma, double quotes only where needed, LF line ends, empty for null."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", quotechar='"', lineterminator="\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)  # the csv module writes None as an empty field
    path = root / relative
    _write_durably(path, buffer.getvalue())
    make_private(path, settings)
    return ExportedFile(relative, len(rows), _sha256(path))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _naive(value: dt.datetime) -> dt.datetime:
    """Engines that keep instants (Spark's Parquet) come back tz-aware in UTC: wall time kept."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


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


def _safe(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe file name {name!r}")
    return name
