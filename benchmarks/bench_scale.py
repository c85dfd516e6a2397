"""Benchmark: the pipeline at scale, a full history and then daily runs, as one user would run it.

1. Generates (once, cached in the work folder) a shop of `--customers` customers with
   `--orders-per-customer` orders each on average, the last three days as daily drops (Parquet).
   The defaults are 1.0 M customers, ~10 M orders, ~15 M lines and ~100 M events.
2. `retention run` on the history (every asset, through Dagster), then one `retention run` per
   daily drop after adding that day's files to the landing folder.
3. For every run: wall time, the peak RSS of the whole process tree (the `retention` process and
   every child, dbt and Dagster's included, summed; sampled from /proc every 0.5 s), the time of
   each step (from the run's progress lines) and of each dbt model and test (dbt's
   run_results.json).
4. On the same orders: a hand-written DuckDB monthly-cohort query and the pandas recipe, timed,
   checked equal, as ratios to the full run.

Writes `results.json` into the work folder and prints a table.

    .venv/bin/python benchmarks/bench_scale.py [--customers 1000000] [--workdir data/bench]
    .venv/bin/python benchmarks/bench_scale.py --customers 100000    # a tenth of the scale
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2026, 11, 21)  # last day of the generated data; the last three days are drops
DROP_DAYS = 3
ENTITIES_BY_DAY = ("orders", "order_items", "events")
STEP_TIME = re.compile(r"^\[(\d\d:\d\d:\d\d)\] ▶", re.MULTILINE)
STEP_DONE = re.compile(r"[✓✗] (\S+) (?:done in|failed after) (?:(\d+)m)?(\d+)s")


# --- the shop --------------------------------------------------------------------------------


def shop(workdir: Path, customers: int, orders_per_customer: float, seed: int) -> tuple[Path, dict]:
    """The generated landing (cached: generated again only if absent or incomplete)."""
    folder = workdir / f"shop-{customers}-{orders_per_customer:g}-{seed}"
    done = folder / "_rows.json"
    if done.exists():
        return folder, json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("retention")), "generate",
               "--customers", str(customers), "--out", str(folder), "--format", "parquet",
               "--seed", str(seed), "--end", END.isoformat(), "--days", str(DROP_DAYS),
               "--orders-per-customer", str(orders_per_customer)]
    print(f"generating {customers:,} customers into {folder} ...", flush=True)
    measured = measure(command, workdir / "generate.log")
    if measured["exit_code"] != 0:
        sys.exit(f"generation failed, see {workdir / 'generate.log'}")
    rows = _rows_from_log(workdir / "generate.log")
    rows["generate_s"], rows["generate_peak_rss_mb"] = measured["seconds"], measured["peak_rss_mb"]
    done.write_text(json.dumps(rows))  # "_" files are not landing files
    return folder, rows


def _rows_from_log(log: Path) -> dict:
    rows = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "rows":
            rows[parts[0]] = int(parts[1].replace(",", ""))
    return rows


def drop_days() -> list[dt.date]:
    return [END - dt.timedelta(days=k) for k in range(DROP_DAYS - 1, -1, -1)]


def link_history(source: Path, landing: Path) -> None:
    """The landing folder of the first run: everything but the daily drops (hard links)."""
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir(parents=True)
    for name in ("customers.parquet", "products.parquet"):
        os.link(source / name, landing / name)
    for entity in ENTITIES_BY_DAY:
        (landing / entity).mkdir()
        for path in (source / entity).glob("*-history.parquet"):
            os.link(path, landing / entity / path.name)


def link_day(source: Path, landing: Path, day: dt.date) -> dict[str, int]:
    """Adds the drop of `day`; returns its rows per entity."""
    import pyarrow.parquet as pq

    rows = {}
    for entity in ENTITIES_BY_DAY:
        path = source / entity / f"{day.isoformat()}.parquet"
        os.link(path, landing / entity / path.name)
        rows[entity] = pq.ParquetFile(path).metadata.num_rows
    return rows


# --- measuring a process tree ----------------------------------------------------------------


# A shared machine: a run whose tree grows beyond max_rss_mb, or lasts beyond timeout_s, is stopped.
LIMIT = {"max_rss_mb": 9000, "timeout_s": None}


def measure(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Runs `command` (output to `log`); wall seconds, exit code and the peak RSS of its tree.
    A tree beyond LIMIT["max_rss_mb"] or LIMIT["timeout_s"] is stopped (SIGTERM to its process
    group, SIGKILL 15 s later)."""
    peak, stopped = [0], [None]
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, cwd=REPO,
                                   start_new_session=True)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss_kb(process.pid))
                timeout = LIMIT["timeout_s"]
                if stopped[0] is None and peak[0] > LIMIT["max_rss_mb"] * 1024:
                    stopped[0] = f"process tree above {LIMIT['max_rss_mb']} MB"
                elif stopped[0] is None and timeout and time.perf_counter() - started > timeout:
                    stopped[0] = f"running for more than {timeout} s"
                else:
                    stop.wait(0.5)
                    continue
                print(f"  {stopped[0]}: stopping it", flush=True)
                _kill_group(process.pid, signal.SIGTERM)
                threading.Timer(15, _kill_group, (process.pid,)).start()
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        stop.set()
        sampler.join()
    return {"seconds": round(time.perf_counter() - started, 1), "exit_code": code,
            "peak_rss_mb": round(peak[0] / 1024), "stopped": stopped[0]}


def _kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def tree_rss_kb(root: int) -> int:
    """Sum of VmRSS of `root` and all its descendants (0 for processes gone meanwhile)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


# --- one pipeline run ------------------------------------------------------------------------


def pipeline_run(work: Path, landing: Path, as_of: dt.date, name: str) -> dict:
    retention = str(Path(sys.executable).with_name("retention"))
    command = [retention, "run", "--landing", str(landing), "--warehouse",
               str(work / "warehouse.duckdb"), "--exports", str(work / "exports"),
               "--serving", str(work / "serving.duckdb"), "--as-of", as_of.isoformat()]
    env = {"RETENTION_DAGSTER_HOME": str(work / "dagster_home")}
    started = time.time()
    print(f"{name}: retention run --as-of {as_of} ...", flush=True)
    result = measure(command, work / f"{name}.log", env)
    log = (work / f"{name}.log").read_text()
    result["steps"] = {m[1]: int(m[2] or 0) * 60 + int(m[3]) for m in STEP_DONE.finditer(log)}
    result["startup_s"] = startup_seconds(log, started)
    # a shared machine: the load beside the time (1, 5 and 15 minutes, at the run's end)
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    result["dbt_nodes"] = dbt_nodes(started)
    print(f"  {result['seconds']} s, peak {result['peak_rss_mb']:,} MB, exit {result['exit_code']}",
          flush=True)
    return result


def startup_seconds(log: str, started: float) -> float | None:
    """Seconds from the command's start to its first step (CLI, Dagster, dbt parse, locks)."""
    first = STEP_TIME.search(log)
    if first is None:
        return None
    begun = dt.datetime.fromtimestamp(started)
    at = dt.datetime.combine(begun.date(), dt.time.fromisoformat(first[1]))
    if at < begun - dt.timedelta(seconds=1):  # the first step began after midnight
        at += dt.timedelta(days=1)
    return round(max(0.0, (at - begun).total_seconds()), 1)


def dbt_nodes(since: float) -> dict[str, float]:
    """Seconds per dbt node of the dbt invocations that wrote a run_results.json after `since`
    (both phases of a run: each invocation writes its own)."""
    found = [p for p in (REPO / "dbt_project" / "target").glob("**/run_results.json")
             if p.stat().st_mtime >= since]
    nodes: dict[str, float] = {}
    for path in sorted(found, key=lambda p: p.stat().st_mtime):
        for r in json.loads(path.read_text())["results"]:
            nodes[r["unique_id"]] = round(r["execution_time"], 1)
    return nodes


# --- the baselines ---------------------------------------------------------------------------


COHORT_SQL = """
with valid as (
    select customer_id, ordered_at from (
        select *, row_number() over (partition by order_id order by updated_at desc) rn
        from read_parquet({files})) where rn = 1
      and customer_id is not null and coalesce(status, 'completed') not in ('cancelled', 'test')
      and not (total_amount > 0 and coalesce(refunded_amount, 0) >= total_amount)
), months as (
    select customer_id, date_trunc('month', ordered_at at time zone 'UTC') as month
    from valid group by all
), firsts as (select customer_id, min(month) as cohort from months group by all)
select f.cohort, datediff('month', f.cohort, m.month) as months_since,
       count(distinct m.customer_id) as customers
from months m join firsts f using (customer_id) group by all order by all
"""


def cohort_duckdb(files: list[Path]) -> tuple[float, list]:
    from retention_pipeline.warehouse import connect

    started = time.perf_counter()
    with connect(":memory:") as con:
        con.execute("SET enable_progress_bar = false")
        listed = "[" + ", ".join(f"'{p}'" for p in files) + "]"
        rows = con.execute(COHORT_SQL.format(files=listed)).fetchall()
    return time.perf_counter() - started, [(r[0].date(), int(r[1]), int(r[2])) for r in rows]


def cohort_pandas(files: list[Path]) -> tuple[float, list]:
    """The recipe an analyst writes: read the orders, keep valid ones, group by cohort month."""
    import pandas as pd

    started = time.perf_counter()
    columns = ["order_id", "customer_id", "ordered_at", "updated_at", "status", "total_amount",
               "refunded_amount"]
    o = pd.concat([pd.read_parquet(p, columns=columns) for p in files], ignore_index=True)
    o = o.sort_values("updated_at").drop_duplicates("order_id", keep="last")
    total = o.total_amount.astype(float)
    refunded = o.refunded_amount.astype(float).fillna(0)
    o = o[o.customer_id.notna() & ~o.status.fillna("completed").isin(["cancelled", "test"])
          & ~((total > 0) & (refunded >= total))]
    ordered = o.ordered_at.dt.tz_convert("UTC")
    months = pd.DataFrame({"customer_id": o.customer_id,
                           "month": ordered.dt.year * 12 + ordered.dt.month - 1}).drop_duplicates()
    months["cohort"] = months.groupby("customer_id").month.transform("min")
    months["months_since"] = months.month - months.cohort
    table = months.groupby(["cohort", "months_since"]).customer_id.nunique().reset_index()
    rows = [(dt.date(c // 12, c % 12 + 1, 1), int(k), int(n))
            for c, k, n in table.itertuples(index=False)]
    return time.perf_counter() - started, sorted(rows)


# --- report ----------------------------------------------------------------------------------


def print_table(results: dict) -> None:
    runs = results["runs"]
    print("\nrun                 wall s   start-up s   peak RSS MB   exit")
    for name, run in runs.items():
        print(f"{name:<18} {run['seconds']:>7}   {run.get('startup_s') or '':>10}   "
              f"{run['peak_rss_mb']:>11,}   {run['exit_code']}   load {run.get('load_avg')}")
    full = runs["full"]["seconds"]
    for name, run in runs.items():
        if name != "full":
            print(f"{name}: {100 * run['seconds'] / full:.0f} % of the full run")
    names = list(runs)
    header = "".join(f"{n.removeprefix('day '):>12}" for n in names)
    steps = sorted({s for run in runs.values() for s in run["steps"]},
                   key=lambda s: -runs["full"]["steps"].get(s, 0))
    print(f"\n{'step (s)':<44}{header}")
    for step in steps:
        print(f"{step[:43]:<44}" + "".join(f"{runs[n]['steps'].get(step, ''):>12}" for n in names))
    nodes = sorted(runs["full"]["dbt_nodes"].items(), key=lambda kv: -kv[1])[:20]
    print(f"\n{'slowest dbt nodes (s)':<44}{header}")
    for node, _ in nodes:
        kind, _project, name = node.split(".")[:3]
        label = f"test {name}" if kind == "test" else name
        print(f"{label[:43]:<44}" + "".join(
            f"{runs[n]['dbt_nodes'].get(node, ''):>12}" for n in names))
    b = results["baselines"]
    print(f"\nmonthly cohorts on {b['orders']:,} order rows: DuckDB by hand {b['duckdb_s']:.1f} s, "
          f"pandas {b['pandas_s']:.1f} s; full run = {full / b['duckdb_s']:.0f}x DuckDB, "
          f"{full / b['pandas_s']:.1f}x pandas; same result: {b['same_result']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench",
                        help="Cache of generated shops and the runs' files (default data/bench).")
    parser.add_argument("--max-rss-mb", type=int, default=LIMIT["max_rss_mb"],
                        help="Stop a run whose process tree grows beyond this (default 9000).")
    parser.add_argument("--timeout-s", type=int, default=None,
                        help="Stop a run lasting longer (its finished steps are still reported).")
    parser.add_argument("--days", type=int, default=DROP_DAYS, choices=range(DROP_DAYS + 1),
                        help="Daily drops to run after the full history.")
    parser.add_argument("--print", dest="print_only", type=Path, metavar="RESULTS_JSON",
                        help="Only print the table of an earlier results.json.")
    args = parser.parse_args()
    if args.print_only:
        print_table(json.loads(args.print_only.read_text()))
        return
    LIMIT["max_rss_mb"], LIMIT["timeout_s"] = args.max_rss_mb, args.timeout_s

    args.workdir.mkdir(parents=True, exist_ok=True)
    source, rows = shop(args.workdir, args.customers, args.orders_per_customer, args.seed)
    work = args.workdir / f"run-{args.customers}"
    shutil.rmtree(work, ignore_errors=True)  # every benchmark starts from an empty warehouse
    work.mkdir(parents=True)
    landing = work / "landing"
    link_history(source, landing)

    runs, drops = {}, {}
    runs["full"] = pipeline_run(work, landing, END - dt.timedelta(days=DROP_DAYS), "full")
    for day in drop_days()[: 0 if runs["full"]["stopped"] else args.days]:
        drops[day.isoformat()] = link_day(source, landing, day)
        runs[f"day {day}"] = pipeline_run(work, landing, day, f"day-{day}")

    files = sorted((source / "orders").glob("*.parquet"))
    duckdb_s, by_duckdb = cohort_duckdb(files)
    pandas_s, by_pandas = cohort_pandas(files)
    import pyarrow.parquet as pq

    order_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    results = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": os.getloadavg()[0]},
        "shop": rows, "drops": drops, "runs": runs,
        "baselines": {"orders": order_rows, "duckdb_s": round(duckdb_s, 2),
                      "pandas_s": round(pandas_s, 2), "same_result": by_duckdb == by_pandas},
    }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print_table(results)
    print(f"\nresults: {work / 'results.json'}")


if __name__ == "__main__":
    main()
