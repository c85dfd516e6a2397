"""Benchmark: raw ingestion alone (landing files -> raw tables), at the scale of a generated shop.

1. Generates (once, cached in the work folder, the same cache as bench_scale.py: a folder
   `shop-<customers>-<orders per customer>-<seed>` with `_rows.json`) a Parquet shop whose
   last three days are daily drops.
2. In a child process on a fresh warehouse: ingests the history files of customers, products,
   orders, order_items and events (the first full load), then the first daily drop of orders,
   order_items and events (a small batch against a full raw table).
3. Reports per entity the wall time and rows, and for the whole child the wall time and the
   peak RSS of its process tree (sampled from /proc every 0.5 s), with the machine's load
   average. The DuckDB settings are the pipeline's (`RETENTION_DUCKDB_MEMORY_LIMIT`,
   `RETENTION_DUCKDB_THREADS`); `--memory-limit` / `--threads` set them.

    .venv/bin/python benchmarks/bench_ingestion.py                      # 20 k customers (make bench)
    .venv/bin/python benchmarks/bench_ingestion.py --customers 100000   # ~10 M events
    .venv/bin/python benchmarks/bench_ingestion.py --customers 1000000 --workdir /path/cache
                                                                        # ~100 M events

Writes `ingestion-<customers>.json` into the work folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale  # the shop cache and the /proc sampler are shared

HISTORY_ENTITIES = ("customers", "products", "orders", "order_items", "events")
DAILY_ENTITIES = ("orders", "order_items", "events")


def child(work: Path, as_of: str, out: Path) -> None:
    """Runs in the measured process: the ingestion itself, timed per entity."""
    from retention_pipeline.ingestion import discover_landing, ingest_entity
    from retention_pipeline.settings import load_settings
    from retention_pipeline.warehouse import connect

    settings = load_settings()
    results = []
    with connect(work / "warehouse.duckdb", settings=settings) as con:
        for phase, landing, entities, batch in (
            ("history", work / "landing", HISTORY_ENTITIES, as_of),
            ("daily", work / "landing-daily", DAILY_ENTITIES, None),
        ):
            found = discover_landing(landing)
            for entity in entities:
                day = dt.date.fromisoformat(batch) if batch else dt.date.fromisoformat(as_of) + \
                    dt.timedelta(days=1)
                started = time.perf_counter()
                stats = ingest_entity(con, found, entity, day)
                seconds = time.perf_counter() - started
                results.append({"phase": phase, "entity": entity, "seconds": round(seconds, 2),
                                "rows_read": stats.rows_read, "rows_loaded": stats.rows_loaded,
                                "rows_quarantined": stats.rows_quarantined,
                                "rows_duplicate": stats.rows_duplicate})
                print(f"  {phase:8} {entity:12} {seconds:8.1f} s  {stats.rows_read:>12,} rows",
                      flush=True)
                out.write_text(json.dumps(results))


def landing_of(source: Path, work: Path) -> None:
    """`landing`: the history files (hard links); `landing-daily`: those plus the first drop."""
    history, daily = work / "landing", work / "landing-daily"
    bench_scale.link_history(source, history)
    bench_scale.link_history(source, daily)
    bench_scale.link_day(source, daily, bench_scale.drop_days()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders-per-customer", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=bench_scale.REPO / "data" / "bench",
                        help="Cache of generated shops (default data/bench, as bench_scale.py).")
    parser.add_argument("--memory-limit", help="duckdb_memory_limit for the run (e.g. 3GB).")
    parser.add_argument("--threads", type=int, help="duckdb_threads for the run.")
    parser.add_argument("--max-rss-mb", type=int, default=bench_scale.LIMIT["max_rss_mb"])
    parser.add_argument("--child", nargs=3, metavar=("WORK", "AS_OF", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    bench_scale.LIMIT["max_rss_mb"] = args.max_rss_mb
    args.workdir.mkdir(parents=True, exist_ok=True)
    source, rows = bench_scale.shop(args.workdir, args.customers, args.orders_per_customer,
                                    args.seed)
    work = args.workdir / f"ingestion-run-{args.customers}"
    shutil.rmtree(work, ignore_errors=True)  # every run starts from an empty warehouse
    work.mkdir(parents=True)
    landing_of(source, work)
    env = {}
    if args.memory_limit:
        env["RETENTION_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
    if args.threads:
        env["RETENTION_DUCKDB_THREADS"] = str(args.threads)
    env["RETENTION_DUCKDB_TEMP_DIRECTORY"] = str(work / "duckdb_tmp")
    as_of = (bench_scale.END - dt.timedelta(days=bench_scale.DROP_DAYS)).isoformat()
    out = work / "entities.json"
    load_before = os.getloadavg()
    print(f"ingesting {source.name} (load average {load_before[0]:.1f}) ...", flush=True)
    command = [sys.executable, __file__, "--child", str(work), as_of, str(out)]
    measured = bench_scale.measure(command, work / "ingestion.log", env)
    print((work / "ingestion.log").read_text(), end="")
    result = {
        "customers": args.customers, "shop_rows": rows, **measured,
        "memory_limit": args.memory_limit, "threads": args.threads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "entities": json.loads(out.read_text()) if out.exists() else [],
    }
    (args.workdir / f"ingestion-{args.customers}.json").write_text(json.dumps(result, indent=2))
    print(f"whole ingestion: {measured['seconds']} s, peak tree RSS {measured['peak_rss_mb']:,} MB,"
          f" exit {measured['exit_code']}; load average {result['load_average_after'][0]:.1f}")
    shutil.rmtree(work / "duckdb_tmp", ignore_errors=True)
    (work / "warehouse.duckdb").unlink(missing_ok=True)  # large; the figures are kept
    if measured["exit_code"] != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
