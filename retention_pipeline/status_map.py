"""The order status map (seed `order_status_map`) as Python sees it: which statuses are known.

dbt maps statuses in stg_shop__orders; ingestion and the raw Great Expectations suite only need
to know which statuses are neither the contract's nor mapped, to count and name them. Both read
the same seed file, so editing the CSV changes all three.
"""

from __future__ import annotations

import csv
from functools import cache

from retention_pipeline.ingestion.schema import ORDER_STATUSES
from retention_pipeline.paths import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "order_status_map.csv"


def normalized(status: str) -> str:
    """As the map compares statuses: trimmed, lower-case, '-' read as '_' (dbt macro
    normalized_status)."""
    return status.strip().lower().replace("-", "_")


@cache
def status_map() -> dict[str, str]:
    """Normalised shop status -> contract status, from the seed (empty when there is none)."""
    if not SEED.is_file():
        return {}
    with SEED.open(newline="", encoding="utf-8") as fh:
        return {normalized(row["shop_status"]): row["status"].strip().lower()
                for row in csv.DictReader(fh) if row.get("shop_status")}


def known_statuses() -> tuple[str, ...]:
    """Every normalised status an order may have and still count: the contract's and the mapped."""
    return tuple(sorted(set(ORDER_STATUSES) | set(status_map())))
