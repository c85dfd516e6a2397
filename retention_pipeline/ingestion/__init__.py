"""Landing folder -> DuckDB raw layer, with row-level validation and quarantine
(docs/metrics.md#inputs, #bad-input).

    landing = discover_landing(landing_dir)          # LandingError if customers/orders are missing
    stats = ingest_entity(con, landing, "orders", batch_date)
    if stats.exceeds(settings.quarantine_threshold): ...   # stats.share_bad, stats.to_metadata()

Writes `raw.<entity>` (every version of every row, typed, with lineage columns), `raw.quarantine`
(rows that break a rule, with a reason code: see validate.REASONS) and `raw.ingest_log` (one row per
file read, with its counts and content hash). The contract is docs/design.md, "Raw layer".
Modules: landing (finding files), fingerprint (hash + UTF-8), readers (file -> text rows),
validate (row rules), duplicates (exact / conflicting duplicates), load (orchestration), stats;
database (a shop's PostgreSQL / MySQL tables instead of files, setting source_url, staged as
Parquet and loaded by load.ingest_staged) and source_cursor (where its next read starts).
"""

from retention_pipeline.ingestion.errors import LandingError
from retention_pipeline.ingestion.landing import Landing, LandingFile, discover_landing
from retention_pipeline.ingestion.load import (
    batch_stats,
    ensure_raw_tables,
    ingest_entity,
    ingest_staged,
)
from retention_pipeline.ingestion.schema import (
    AMOUNT_LIMIT,
    ENTITIES,
    QUANTITY_LIMIT,
    REQUIRED_ENTITIES,
)
from retention_pipeline.ingestion.stats import (
    DEFAULT_QUARANTINE_THRESHOLD,
    FileStats,
    IngestStats,
)
from retention_pipeline.ingestion.validate import REASONS

__all__ = [
    "AMOUNT_LIMIT",
    "DEFAULT_QUARANTINE_THRESHOLD",
    "ENTITIES",
    "QUANTITY_LIMIT",
    "REASONS",
    "REQUIRED_ENTITIES",
    "FileStats",
    "IngestStats",
    "Landing",
    "LandingError",
    "LandingFile",
    "batch_stats",
    "discover_landing",
    "ensure_raw_tables",
    "ingest_entity",
    "ingest_staged",
]
