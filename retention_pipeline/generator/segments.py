"""Vectorised helpers for rows grouped in contiguous segments (a customer's purchases, an order's
lines): the numpy replacement for per-customer Python loops."""

from __future__ import annotations

import numpy as np


def segment_starts(counts: np.ndarray) -> np.ndarray:
    """First row of each segment when segments of `counts` rows are laid end to end."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.cumsum(counts) - counts


def position_in_segment(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each segment, for rows laid out by np.repeat(..., counts)."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.arange(int(counts.sum())) - np.repeat(segment_starts(counts), counts)


def starts_of(segment: np.ndarray) -> np.ndarray:
    """For rows sorted by `segment`: the index of the first row of each row's segment."""
    n = len(segment)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = segment[1:] != segment[:-1]
    first = np.flatnonzero(new)
    return np.repeat(first, np.diff(np.append(first, n)))


def cumsum_in_segment(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Running total restarting at each segment (rows sorted by `segment`)."""
    total = np.cumsum(values)
    start = starts_of(segment)
    return total - total[start] + values[start]


def alive_until_first_death(dies_after: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Rows before or at the first row of their segment flagged `dies_after` (sorted by segment).

    `dies_after[j]` means "the customer drops out after purchase j": rows after it are dropped.
    """
    deaths_before = cumsum_in_segment(dies_after.astype(np.int64), segment) - dies_after
    return deaths_before == 0


def group_any(flag: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(group, weights=flag.astype(np.float64), minlength=n_groups) > 0


def group_sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact integer sums per group (float64 is exact far beyond any cent total here)."""
    sums = np.bincount(group, weights=values.astype(np.float64), minlength=n_groups)
    return np.rint(sums).astype(np.int64)
