"""When buyers purchase: a buy-till-you-die process shaped by category cycles.

Each buyer has a personal pace (gamma-distributed purchase rate, or a personal rhythm around the
cycle of a consumable favourite category) and a dropout probability p (beta-distributed): after
every purchase they leave for good with probability p. The first repurchase is harder than later
ones. The whole candidate sequence of every buyer is drawn at once (np.repeat + segmented cumsum),
then cut at the first dropout and at the end of the history.

After-sales experience (returns, complaints, slow support) adds a second, independent dropout per
purchase; `aftersales.py` draws it once the purchases have contents (see `apply_dropout`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.customers import Customers
from retention_pipeline.generator.segments import (
    alive_until_first_death,
    cumsum_in_segment,
    position_in_segment,
)
from retention_pipeline.generator.timeline import Timeline, time_of_day


@dataclass
class Purchases:
    """Chain purchases sorted by (customer, seq); seq 0 is the customer's first purchase."""

    customer: np.ndarray
    seq: np.ndarray
    at_s: np.ndarray


def simulate_purchases(rng: np.random.Generator, customers: Customers,
                       timeline: Timeline, intensity: float = 1.0) -> Purchases:
    """`intensity` > 1 makes buyers buy more often and stay longer (gaps and dropout divided
    by it, the first-repurchase hurdle lowered): how `--orders-per-customer` reaches its mean."""
    buyers = np.flatnonzero(customers.buyer)
    cycle = np.asarray(ref.CYCLE_DAYS, dtype=float)[customers.favourite_category[buyers]]
    consumable = cycle > 0
    n = len(buyers)
    pace = rng.gamma(ref.CONSUMABLE_PACE_GAMMA_SHAPE, 1 / ref.CONSUMABLE_PACE_GAMMA_SHAPE, n)
    rate = rng.gamma(*ref.DURABLE_RATE_GAMMA, size=n)
    mean_gap = np.where(consumable, cycle * pace, 1 / np.maximum(rate, 1e-4))
    mean_gap = (mean_gap / intensity).clip(max(1.0, 7 / intensity), 5000)
    dropout = np.where(consumable, rng.beta(*ref.CONSUMABLE_DROPOUT_BETA, size=n),
                       rng.beta(*ref.DURABLE_DROPOUT_BETA, size=n)) / intensity

    first_day = timeline.day_index(customers.first_order_s[buyers])
    remaining = timeline.days - 1 - first_day
    # Enough candidates that running out before the end of the history is rare.
    enough = np.where(consumable, remaining / (0.5 * mean_gap), 2.5 * remaining / mean_gap + 4)
    count = np.clip(np.ceil(enough) + 1, 1, ref.MAX_PURCHASES_PER_CUSTOMER).astype(np.int64)
    count[customers.single_purchase[buyers]] = 1

    row_buyer = np.repeat(np.arange(n), count)
    seq = position_in_segment(count)
    gap = _gaps(rng, consumable[row_buyer], mean_gap[row_buyer])
    gap[seq == 0] = 0
    day = first_day[row_buyer] + cumsum_in_segment(gap, row_buyer)

    hurdle = _first_repurchase_factor(customers, buyers) ** (1 / intensity)
    survive = (1 - dropout[row_buyer]) * np.where(seq == 0, hurdle[row_buyer], 1.0)
    dies_after = rng.random(len(seq)) >= np.minimum(survive, 1 - 0.03 / intensity)
    keep = alive_until_first_death(dies_after, row_buyer) & (day < timeline.days)

    customer = buyers[row_buyer[keep]]
    seq, day = seq[keep], day[keep]
    at_s = timeline.day_start(day) + time_of_day(rng, customers.utc_offset[customer])
    first = seq == 0
    at_s[first] = customers.first_order_s[customer[first]]
    return Purchases(customer=customer, seq=seq, at_s=at_s)


def _gaps(rng, consumable: np.ndarray, mean_gap: np.ndarray) -> np.ndarray:
    """Whole days between purchases (at least one: a same-day second order is a separate thing).

    Consumables: the personal cycle with jitter, sometimes a skipped cycle (bought elsewhere).
    Durables: memoryless waiting times at the personal rate.
    """
    m = len(mean_gap)
    jitter = rng.lognormal(0, ref.CYCLE_JITTER_SIGMA, m)
    skipped = np.where(rng.random(m) < ref.SKIPPED_CYCLE_SHARE, 2.0, 1.0)
    gap = np.where(consumable, mean_gap * jitter * skipped, rng.exponential(mean_gap))
    return np.maximum(1, np.rint(gap)).astype(np.int64)


def _first_repurchase_factor(customers: Customers, buyers: np.ndarray) -> np.ndarray:
    channel_factor = np.append(np.array([c[2] for c in ref.ACQUISITION_CHANNELS]), 1.0)
    acquisition = customers.acquisition[buyers]  # -1 (unknown) picks the neutral factor
    return ref.FIRST_REPURCHASE_FACTOR * channel_factor[acquisition]


def apply_dropout(rng: np.random.Generator, customer: np.ndarray,
                  survive: np.ndarray) -> np.ndarray:
    """Keep-mask after an extra dropout with per-purchase survival `survive` (rows by customer)."""
    dies_after = rng.random(len(survive)) >= survive
    return alive_until_first_death(dies_after, customer)
