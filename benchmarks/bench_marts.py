"""Benchmark: a full `dbt build` (every model and dbt test, marts included) on ~1,000,000 orders.

Generates a sample shop big enough (Parquet landing files), ingests it, then runs `dbt build` in a
child process and reports its wall time and peak memory (max RSS of the dbt process, which runs
DuckDB in-process), the slowest models, and the mart sizes. Generation and ingestion are timed
too but are not part of the mart numbers.

    .venv/bin/python benchmarks/bench_marts.py [--orders 1000000] [--seed 7] [--workdir DIR]
    .venv/bin/python benchmarks/bench_marts.py --workdir DIR --skip-load   # dbt again, same data
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retention_pipeline.generator import generate_shop
from retention_pipeline.ingestion import discover_landing, ingest_entity
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.warehouse import connect

AS_OF = dt.date(2025, 6, 30)
ORDERS_PER_CUSTOMER = 1.55  # measured on generated shops with the default two years of history
ENTITIES = ("customers", "products", "orders", "order_items", "events")


def generate(landing: Path, orders: int, seed: int) -> dict[str, int]:
    customers = round(orders / ORDERS_PER_CUSTOMER)
    return generate_shop(landing, customers, seed=seed, end=AS_OF, fmt="parquet")


def ingest(landing: Path, warehouse: Path) -> None:
    found = discover_landing(landing)
    with connect(warehouse) as con:
        for entity in ENTITIES:
            ingest_entity(con, found, entity, AS_OF)


def dbt_build(warehouse: Path, target: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of `dbt build` in a child process."""
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt), "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
        str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target / "logs"),
        "--vars", json.dumps({"as_of": AS_OF.isoformat(), "reporting_tz": "UTC"}),
    ]
    env = {**os.environ, "RETENTION_WAREHOUSE": str(warehouse)}
    started = time.perf_counter()
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-2000:])
    # ru_maxrss of the children is in KiB on Linux: the largest child so far, here dbt
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak, result.returncode


def slowest_nodes(target: Path, count: int = 15) -> list[tuple[float, str]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = [(r["execution_time"], r["unique_id"].split(".", 2)[-1]) for r in results]
    return sorted(timed, reverse=True)[:count]


def mart_sizes(warehouse: Path) -> dict[str, int]:
    with connect(warehouse, read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name").fetchall()]
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the shop and warehouse here (default: a temporary folder)")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the warehouse already loaded in --workdir: time dbt only")
    args = parser.parse_args()
    if args.skip_load and args.workdir is None:
        parser.error("--skip-load needs --workdir")

    with tempfile.TemporaryDirectory(prefix="bench_marts_") as tmp:
        root = args.workdir or Path(tmp)
        landing, warehouse = root / "landing", root / "warehouse.duckdb"
        if not args.skip_load:
            warehouse.unlink(missing_ok=True)
            started = time.perf_counter()
            rows = generate(landing, args.orders, args.seed)
            print(f"generated {', '.join(f'{n:,} {e}' for e, n in rows.items())} "
                  f"in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            ingest(landing, warehouse)
            print(f"ingested in {time.perf_counter() - started:.1f} s")

        seconds, peak_mib, code = dbt_build(warehouse, root / "dbt_target")
        print(f"\ndbt build (all models and tests): {seconds:.1f} s wall, "
              f"peak RSS {peak_mib:,.0f} MiB, exit code {code}")
        print("slowest nodes:")
        for node_seconds, node in slowest_nodes(root / "dbt_target"):
            print(f"  {node_seconds:7.2f} s  {node}")
        print("mart rows:")
        for table, n in mart_sizes(warehouse).items():
            print(f"  {n:>12,}  marts.{table}")
        print(f"warehouse file {warehouse.stat().st_size / 2**20:,.0f} MiB")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
