"""CDNOW test data, read straight from the files shipped inside the `lifetimes` wheel.

lifetimes' own dataset loaders import pkg_resources (gone from recent setuptools), so the files
are located with importlib's finder without importing lifetimes at all.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

OBSERVATION_START = "1997-01-01"
CALIBRATION_END = "1997-09-30"  # last day included; reproduces the files' T = days / 7
WEEK = 7.0

# Published estimates (Fader, Hardie & Lee 2005; Fader & Hardie note 025).
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_PUBLISHED_LL = -9582.4
GAMMA_GAMMA_PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def data_dir() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the test-only dependency `lifetimes` is not installed (pip install -e '.[dev]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@cache
def _transactions() -> pd.DataFrame:
    raw = pd.read_csv(
        data_dir() / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["orig_id", "customer_id", "date", "cds", "occasion_value"],
        dtype={"date": str},
    )
    raw["occasion_date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw[["customer_id", "occasion_date", "occasion_value", "cds"]]


def transactions() -> pd.DataFrame:
    """One row per CDNOW_sample.txt line: customer_id (1..2357), occasion_date, occasion_value, cds.

    Several lines can share a customer and day; they form one purchase occasion.
    """
    return _transactions().copy()


def summary_file() -> pd.DataFrame:
    """cdnow_customers_summary.csv: ID, frequency, recency, T (weeks, 2 decimals)."""
    return pd.read_csv(data_dir() / "cdnow_customers_summary.csv")


def summary_with_spend_file() -> pd.DataFrame:
    """cdnow_customers_summary_with_transactions.csv: ID, x, t_x, T, zbar (mean repeat spend)."""
    return pd.read_csv(data_dir() / "cdnow_customers_summary_with_transactions.csv")
