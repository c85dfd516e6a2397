"""Benchmark: BG/NBD maximum-likelihood fit on 1,000,000 simulated customers.

Customers are drawn from known parameters (alpha in days) with first purchases spread over two
years, then observed the way a shop sees them: whole days (t_x, T integers: many distinct
histories) and weeks rounded to 2 decimals (as in CDNOW). Reports the time of the summary
compression + fit and the recovered parameters.

    .venv/bin/python benchmarks/bench_bgnbd_fit.py [--customers 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from retention_pipeline.predictions import (
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    clv,
    fit_bgnbd,
    simulate_bgnbd,
)

TRUE_DAYS = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}


def simulate(customers: int, seed: int):
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, size=customers).astype(float)  # days since first purchase
    x, t_x, _ = simulate_bgnbd(TRUE_DAYS, T, seed=rng)
    t_x = np.where(x > 0, np.clip(np.round(t_x), 0, T), 0.0)  # occasions fall on whole days
    return x, t_x, T


def run(label: str, x, t_x, T, true: dict[str, float], year: float) -> None:
    distinct = len(np.unique(np.column_stack([x, t_x, T]), axis=0))
    started = time.perf_counter()
    fit = fit_bgnbd(x, t_x, T)
    seconds = time.perf_counter() - started
    timings = {}
    for name, predict in {
        "P(alive)": lambda: bgnbd_p_alive(fit.params, x, t_x, T),
        "E[purchases next year]": lambda: bgnbd_expected_purchases(fit.params, year, x, t_x, T),
        "CLV 12 monthly periods": lambda: clv(
            fit.params, x, t_x, T, 50.0, periods=12, period_length=year / 12, discount_rate=0.01
        ),
    }.items():
        started = time.perf_counter()
        predict()
        timings[name] = time.perf_counter() - started
    print(f"\n{label}: {len(x):,} customers, {distinct:,} distinct (x, t_x, T) rows")
    print(
        f"  fit {seconds:.2f} s (status {fit.status}, {fit.iterations} iterations, "
        f"LL {fit.log_likelihood:.1f})"
    )
    print("  for all customers: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    for name, value in (fit.params or {}).items():
        print(
            f"  {name:6s} true {true[name]:9.4f}  fitted {value:9.4f}"
            f"  ({value / true[name] - 1:+.2%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    x, t_x, T = simulate(args.customers, args.seed)
    print(
        f"simulated {args.customers:,} customers in {time.perf_counter() - started:.2f} s; "
        f"{np.mean(x > 0):.1%} repeat buyers, mean x {x.mean():.2f}"
    )
    run("days", x, t_x, T, TRUE_DAYS, 365.0)
    weeks_true = dict(TRUE_DAYS, alpha=TRUE_DAYS["alpha"] / 7)
    run("weeks (2 decimals)", x, np.round(t_x / 7, 2), np.round(T / 7, 2), weeks_true, 365 / 7)


if __name__ == "__main__":
    main()
