"""What one ingestion did: per file and for the day's batch, ready for Dagster metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

DEFAULT_QUARANTINE_THRESHOLD = 0.05  # the `quarantine_threshold` setting's default

# Rows that are kept but worth knowing about, per entity (see validate.py).
KEPT_ANOMALIES: dict[str, tuple[str, ...]] = {
    "orders": ("orders_unknown_customer", "orders_unknown_status"),
    "events": ("events_unknown_type",),
}


@dataclass(frozen=True)
class FileStats:
    """One landing file in this call: read (with its counts) or skipped as already ingested."""

    source_file: str  # relative to the landing folder
    file_format: str
    skipped: bool = False
    skip_reason: str | None = None  # 'unchanged' (same size and mtime) | 'same_content' (same hash)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    kept_anomalies: dict[str, int] = field(default_factory=dict)
    content_sha256: str | None = None
    # Field-level records (a bad optional value nulled, the row loaded): counted apart from rows.
    fields_nulled: int = 0
    field_reasons: dict[str, int] = field(default_factory=dict)  # 'reason:column' -> count

    def __post_init__(self) -> None:
        # The accounting invariant of docs/metrics.md#bad-input: nothing read vanishes.
        accounted = self.rows_loaded + self.rows_quarantined + self.rows_duplicate
        if accounted != self.rows_read:
            raise AssertionError(
                f"{self.source_file}: read {self.rows_read} rows but loaded {self.rows_loaded} + "
                f"quarantined {self.rows_quarantined} + duplicate {self.rows_duplicate} = {accounted}"
            )
        if sum(self.quarantine_reasons.values()) != self.rows_quarantined:
            raise AssertionError(f"{self.source_file}: quarantine reasons do not add up")

    def as_dict(self) -> dict:
        return {
            "source_file": self.source_file,
            "format": self.file_format,
            "skipped": self.skipped,
            "skip_reason": self.skip_reason,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "quarantine_reasons": dict(self.quarantine_reasons),
            "fields_nulled": self.fields_nulled,
            "field_reasons": dict(self.field_reasons),
            **self.kept_anomalies,
        }


@dataclass(frozen=True)
class IngestStats:
    """An entity's ingestion for one batch (partition) date.

    `files` are the files seen by this call. The row totals, reasons and anomalies are the
    batch's: the latest read of every file read for this batch date, including reads by earlier
    calls for the same date. So re-running a day reports what the day loaded (instead of zeros
    for files now skipped), and a day that quarantined too much fails again until fixed.
    """

    entity: str
    batch_date: dt.date
    files: tuple[FileStats, ...]
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    quarantine_reasons: dict[str, int]
    kept_anomalies: dict[str, int]
    # Bad optional values nulled in loaded rows; not rows, so not part of share_bad.
    fields_nulled: int = 0
    field_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def share_bad(self) -> float:
        """Quarantined share of the rows read for this batch (0 when nothing was read)."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0

    def exceeds(self, threshold: float = DEFAULT_QUARANTINE_THRESHOLD) -> bool:
        """True when the batch quarantined more than `threshold` of its rows: stop the run."""
        return self.share_bad > threshold

    @property
    def files_read(self) -> int:
        return sum(not f.skipped for f in self.files)

    @property
    def files_skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    def to_metadata(self) -> dict:
        """Plain values (int, float, str, dict, list): Dagster turns them into metadata values."""
        return {
            "batch_date": self.batch_date.isoformat(),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "share_bad": round(self.share_bad, 6),
            "quarantine_reasons": dict(sorted(self.quarantine_reasons.items())),
            "fields_nulled": self.fields_nulled,
            "field_reasons": dict(sorted(self.field_reasons.items())),
            **self.kept_anomalies,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "files": [f.as_dict() for f in self.files],
        }
