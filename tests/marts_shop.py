"""One generated shop, built once per test process and shared by the mart test modules.

Building a warehouse (ingestion + `dbt build` with all its tests) is the slow part of the mart
tests; the modules that only read the result share this one.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from retention_pipeline.generator import generate_shop
from tests.support.pipeline import build_warehouse

AS_OF = dt.date(2025, 6, 30)  # a month end: June is the latest complete month
TZ = "America/New_York"  # west of UTC: many local dates differ from UTC dates
CUSTOMERS = 2500
SEED = 7


@cache
def generated_shop(root: Path) -> tuple[Path, Path]:
    """(landing folder, built warehouse) under `root`, made on the first call only."""
    landing = root / "landing"
    generate_shop(landing, CUSTOMERS, seed=SEED, end=AS_OF)
    warehouse = build_warehouse(landing, root / "warehouse.duckdb", AS_OF, reporting_tz=TZ)
    return landing, warehouse
