"""Product catalogue: categories with and without a repurchase cycle, launches, a quality trait."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.columns import cents_to_decimal, sequential_ids, timestamps
from retention_pipeline.generator.timeline import DAY, Timeline

_LAUNCH_HOUR_S = 9 * 3600


@dataclass
class Catalog:
    """Per-product arrays indexed 0..n-1 in launch order (product_id = index + 1)."""

    n: int
    ids: pa.Array
    category: np.ndarray
    price_cents: np.ndarray
    launched_s: np.ndarray
    bad_quality: np.ndarray
    table: pa.Table
    # products sorted by (category, launch): picking "a product of category c on sale at t"
    _by_category: np.ndarray
    _category_start: np.ndarray
    _keys: np.ndarray
    _origin: int

    def pick(self, category: np.ndarray, at_s: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A product of `category` already launched at `at_s` (uniform by `u` in [0, 1)).

        Every category has products launched before the history starts, so one always exists.
        """
        key = category.astype(np.int64) * _KEY_SPAN + (at_s - self._origin)
        on_sale = np.searchsorted(self._keys, key, side="right") - self._category_start[category]
        return self._by_category[self._category_start[category]
                                 + (u * on_sale).astype(np.int64)]


_KEY_SPAN = 1 << 40  # more seconds than any history: keeps categories apart in one sorted key


def catalog_size(customers: int) -> int:
    return int(np.clip(60 + 2 * np.sqrt(customers), 60, 2000))


def make_catalog(rng: np.random.Generator, n: int, timeline: Timeline) -> Catalog:
    n_cat = len(ref.CATEGORIES)
    category = np.concatenate([
        np.repeat(np.arange(n_cat), 3),  # every category: some products on sale from the start
        rng.choice(n_cat, size=max(n - 3 * n_cat, 0), p=_normalised(ref.CATEGORY_WEIGHTS)),
    ])
    n = len(category)
    launch_day = _launch_days(rng, n, n_cat, timeline)
    launched_s = timeline.day_start(launch_day) + _LAUNCH_HOUR_S
    order = np.lexsort((np.arange(n), launched_s))  # ids follow launch order
    category, launched_s = category[order], launched_s[order]

    median = np.array([c.median_price for c in ref.CATEGORIES])[category]
    dollars = np.maximum(np.round(median * rng.lognormal(0, 0.45, size=n)), 4)
    price_cents = (dollars * 100 - 1).astype(np.int64)  # x.99 pricing
    bad = rng.random(n) < ref.BAD_QUALITY_SHARE
    ids = sequential_ids("P", n, 5)
    table = pa.table({
        "product_id": ids,
        "name": _names(rng, category),
        "category": pa.array(np.array(ref.CATEGORY_NAMES, dtype=object)[category], pa.string()),
        "price": cents_to_decimal(price_cents),
        "launched_at": timestamps(launched_s),
        "updated_at": timestamps(_updated(rng, launched_s, timeline)),
    })
    origin = int(launched_s.min())
    by_cat = np.lexsort((launched_s, category))
    keys = category[by_cat].astype(np.int64) * _KEY_SPAN + (launched_s[by_cat] - origin)
    start = np.searchsorted(category[by_cat], np.arange(n_cat))
    return Catalog(n=n, ids=ids, category=category, price_cents=price_cents, launched_s=launched_s,
                   bad_quality=bad, table=table, _by_category=by_cat, _category_start=start,
                   _keys=keys, _origin=origin)


def _normalised(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _launch_days(rng, n, n_cat, timeline: Timeline) -> np.ndarray:
    """Day index of each launch (negative: before the history; >= days: coming soon).

    Besides the spread over the history, a few products launched in the last 7 days (new
    arrivals) and a few launch in the next 1-5 days (early access), the first two within 3 days.
    """
    days = timeline.days
    before = rng.random(n) < ref.LAUNCHED_BEFORE_HISTORY_SHARE
    day = np.where(before, -rng.integers(1, 3 * 365, size=n), rng.integers(0, days, size=n))
    day[: 3 * n_cat] = -rng.integers(1, 3 * 365, size=3 * n_cat)
    k = max(2, n // 100)
    free = rng.permutation(np.arange(3 * n_cat, n))  # spread over categories by chance
    recent, coming = free[:k], free[k: 2 * k]
    day[recent] = days - 1 - rng.integers(0, 7, size=len(recent))
    day[coming] = days + rng.integers(1, 6, size=len(coming))
    day[coming[:2]] = days + np.array([1, 2])[: len(coming[:2])]
    return day


def _updated(rng, launched_s, timeline: Timeline) -> np.ndarray:
    """Last edit of the product row; rows of coming launches were published days before the end."""
    n = len(launched_s)
    last = timeline.end_s - 1
    later = launched_s + (rng.random(n) * np.maximum(last - launched_s, 0)).astype(np.int64)
    updated = np.where(rng.random(n) < 0.3, later, launched_s)
    announced = timeline.end_s - DAY * rng.integers(1, 11, size=n) + rng.integers(0, DAY, size=n)
    return np.where(launched_s > last, np.minimum(announced, last), np.minimum(updated, last))


def _names(rng, category) -> pa.Array:
    n = len(category)
    names = np.empty(n, dtype=object)
    for ci, c in enumerate(ref.CATEGORIES):
        rows = np.flatnonzero(category == ci)
        brand = np.array(c.brands, dtype=object)[rng.integers(0, len(c.brands), len(rows))]
        item = np.array(c.items, dtype=object)[rng.integers(0, len(c.items), len(rows))]
        names[rows] = brand + " " + item
    return pa.array(names, pa.string())
