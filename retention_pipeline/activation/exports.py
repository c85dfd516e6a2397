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
data give byte-identical files, on every dbt target. The cells' rules are in csv_cells.py.
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

import pyarrow as pa
import pyarrow.compute as pc

from retention_pipeline.activation import csv_cells, segments
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
    # Formatted a column at a time (a shop of a million customers has millions of candidates
    # and members; only the queued candidates become rows), then sliced into files.
    escape = settings.export_escape_formulas
    send_cells, sends = _campaign_cells(_day_table(settings, "campaign_candidates", as_of, [
        "state", "dedupe_key", *CAMPAIGN_TEXT, "send_at_local", "send_at_utc"],
        only=("state", "queued")), escape)
    members = _day_table(settings, "segment_members", as_of,
                         ["segment", "segment_label", "customer_id"])
    member_cells, runs = _CustomerColumns.read(settings, escape).segment_cells(members)
    enabled = enabled_campaigns(settings)

    exports_dir = private_mkdir(Path(exports_dir).resolve(), settings)
    _remove_leftovers(exports_dir, as_of)
    # Private from the start (addresses, phone numbers): the staging folder is 0700 before any
    # file is written into it, and it becomes the day's folder by the rename.
    staging = exports_dir / f".{as_of.isoformat()}.tmp-{uuid.uuid4().hex}"
    private_mkdir(staging / "campaigns", settings)
    private_mkdir(staging / "segments", settings)
    files = []
    for campaign in sorted(enabled):
        cells = send_cells.slice(*sends.get(campaign, (0, 0)))
        files.append(_write_csv(staging, f"campaigns/{_safe(campaign)}.csv",
                                csv_cells.csv_text_of_cells(CAMPAIGN_COLUMNS, cells), len(cells), settings))
    for segment in segments.exported_segments(set(runs)):
        cells = member_cells.slice(*runs.get(segment, (0, 0)))
        files.append(_write_csv(staging, f"segments/{_safe(segment)}.csv",
                                csv_cells.csv_text_of_cells(SEGMENT_COLUMNS, cells), len(cells), settings))
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


def _campaign_cells(queued: pa.Table, escape: bool) -> tuple[pa.Table, dict[str, tuple[int, int]]]:
    """The text cells of the queued sends, by campaign, customer_id and dedupe_key, and
    {campaign: (first row, rows)}."""
    ordered = queued.sort_by([("campaign", "ascending"), ("customer_id", "ascending"),
                              ("dedupe_key", "ascending")])
    cells = {c: csv_cells.inert_texts(ordered[c], escape) for c in CAMPAIGN_TEXT}
    cells["send_at"] = csv_cells.iso_locals(ordered["send_at_local"], ordered["send_at_utc"])
    return pa.table(cells), _runs(ordered["campaign"])


class _CustomerColumns:
    """The dim_customers columns of the segment files, formatted for every customer at once.

    A million customers sit in two million segment rows: each column is formatted by Arrow
    compute in one pass (csv_cells), and a segment's rows are taken from it by customer."""

    COLUMNS = ("customer_id", "rfm_segment", "member_tier", "last_occasion_date", "occasions",
               "net_revenue")

    @classmethod
    def read(cls, settings: Settings, escape: bool) -> _CustomerColumns:
        return cls(read_table(settings, "marts", "dim_customers", list(cls.COLUMNS)), escape)

    def __init__(self, table: pa.Table, escape: bool):
        self._ids = csv_cells.strings(table["customer_id"])
        self._escape = escape
        self._cells = pa.table({
            "rfm_segment": csv_cells.inert_texts(table["rfm_segment"], escape),
            "member_tier": csv_cells.inert_texts(table["member_tier"], escape),
            "last_order_date": csv_cells.iso_dates(table["last_occasion_date"]),
            "occasions": csv_cells.whole_numbers(table["occasions"]),
            "net_revenue": csv_cells.amounts(table["net_revenue"]),
        })

    def segment_cells(self, members: pa.Table) -> tuple[pa.Table, dict[str, tuple[int, int]]]:
        """The text cells of every segment_members row, ordered by segment and customer_id (nulls
        for a member dim_customers does not know), and {segment: (first row, rows)}.

        Arrow's sort is stable and orders text by its UTF-8 bytes, which is the code-point order
        of Python's: the same order as sorting each segment's rows in Python."""
        ordered = members.sort_by([("segment", "ascending"), ("customer_id", "ascending")])
        ids = csv_cells.strings(ordered["customer_id"])
        known = self._cells.take(pc.index_in(ids, value_set=self._ids))
        cells = pa.table({
            "customer_id": csv_cells.inert_texts(ids, self._escape),
            "segment": csv_cells.inert_texts(ordered["segment"], self._escape),
            "segment_label": csv_cells.inert_texts(ordered["segment_label"], self._escape),
            **{name: known[name] for name in known.column_names},
        })
        return cells, _runs(ordered["segment"])


def _day_table(settings: Settings, table: str, as_of: dt.date, columns: list[str],
               only: tuple[str, str] | None = None) -> pa.Table:
    """The table's rows (those whose column only[0] equals only[1]), which must all be of as_of."""
    rows = read_table(settings, "marts", table, ["as_of_date", *columns])
    days = sorted(d for d in pc.unique(rows["as_of_date"]).to_pylist() if d is not None)
    if days and days != [as_of]:
        raise ExportError(f"marts.{table} holds {days}, not {as_of}: build the day before "
                          "exporting it")
    if only is not None:
        rows = rows.filter(pc.equal(rows[only[0]], only[1]))
    return rows


def _runs(sorted_values) -> dict[str, tuple[int, int]]:
    """{value: (first row, rows)} of a sorted column."""
    counts = pc.value_counts(sorted_values)
    counts = counts.take(pc.sort_indices(counts.field("values")))
    runs, start = {}, 0
    for run in counts.to_pylist():
        runs[run["values"]] = (start, run["counts"])
        start += run["counts"]
    return runs


def _write_csv(root: Path, relative: str, text: str, rows: int,
               settings: Settings) -> ExportedFile:
    path = root / relative
    _write_durably(path, text)
    make_private(path, settings)
    return ExportedFile(relative, rows, _sha256(path))


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
