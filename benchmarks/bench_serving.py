"""Benchmark: publishing the marts of an existing warehouse to each serving copy.

Each publisher runs in a child process of its own, so its wall time and peak memory (max RSS of
that process, DuckDB and the CSV stream to PostgreSQL included) are the publishing step's alone.
Make a warehouse first, e.g. `retention run` (the 5,000-customer sample: data/warehouse.duckdb).

    .venv/bin/python benchmarks/bench_serving.py --warehouse data/warehouse.duckdb \
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from retention_pipeline.serving import duckdb_file, parquet, postgres
from retention_pipeline.serving.personal import default_personal_columns
from retention_pipeline.serving.tables import served_marts, warehouse_reader

target, warehouse, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
personal = default_personal_columns()  # imports dagster-dbt: not part of the publish
started = time.perf_counter()
with warehouse_reader(warehouse) as con:
    marts = served_marts(con, personal, False)
    if target == "duckdb_file":
        duckdb_file.publish_duckdb_file(con, marts, Path(out))
    elif target == "parquet":
        parquet.publish_parquet(con, marts, Path(out))
    else:
        postgres.publish_postgres(con, marts, out, "retention_reader", 600, print)
print(json.dumps({"seconds": time.perf_counter() - started, "tables": len(marts),
                  "rows": sum(m.rows for m in marts),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def run(target: str, warehouse: Path, out: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, target, str(warehouse), out],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--postgres-url")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_serving_"))
    targets = [("duckdb_file", str(workdir / "serving.duckdb")),
               ("parquet", str(workdir / "parquet"))]
    if args.postgres_url:
        targets.append(("postgres", args.postgres_url))
    for target, out in targets:
        result = run(target, args.warehouse, out)
        print(f"{target:<12} {result['seconds']:6.1f} s  {result['tables']} tables "
              f"{result['rows']:>12,} rows  peak RSS {result['peak_rss_mb']} MB")
    size = (workdir / "serving.duckdb").stat().st_size / 1e6
    print(f"serving.duckdb: {size:.1f} MB")


if __name__ == "__main__":
    main()
