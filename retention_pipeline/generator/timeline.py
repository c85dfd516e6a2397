"""Time axis of the sample shop: days, epoch seconds, seasonality, time of day; random streams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)

# Share of activity per local hour 0..23: quiet nights, a lunch bump, an evening peak.
_HOURLY = np.array([0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.8, 1.6, 2.6, 3.2, 3.6, 4.2,
                    5.0, 4.8, 4.2, 4.0, 4.0, 4.4, 5.0, 6.0, 6.6, 6.4, 4.6, 2.2])
_HOURLY = _HOURLY / _HOURLY.sum()

_STREAMS = ("customers", "products", "purchases", "orders", "aftersales", "events", "messages")


def stream(seed: int, name: str, chunk: int = 0) -> np.random.Generator:
    """An independent random stream per part of the shop (a change in one leaves the others)
    and per chunk of customers (chunk 0 keeps the streams of a shop written in one piece)."""
    spawn_key = (_STREAMS.index(name),) if chunk == 0 else (_STREAMS.index(name), chunk)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn_key)))


@dataclass(frozen=True)
class Timeline:
    """Days 0 .. days-1 of history; the last one is `end`. Times are int64 UTC epoch seconds."""

    end: dt.date
    days: int

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days - 1)

    @property
    def start_s(self) -> int:
        return (self.start - _EPOCH).days * DAY

    @property
    def end_s(self) -> int:
        """First second after the last day: every generated time is before it."""
        return self.start_s + self.days * DAY

    def day_start(self, day):
        return self.start_s + np.asarray(day, dtype=np.int64) * DAY

    def day_index(self, seconds):
        return (np.asarray(seconds, dtype=np.int64) - self.start_s) // DAY

    def activity_weights(self) -> np.ndarray:
        """Relative shop traffic per day: growth over the history, a Q4 peak, busier weekends."""
        day = np.arange(self.days)
        dates = np.datetime64(self.start.isoformat()) + day
        month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
        weights = (1.0 + 0.6 * day / max(self.days - 1, 1))
        weights *= np.where(np.isin(month, (11, 12)), 1.35, 1.0)
        weights *= np.where(weekday >= 5, 1.12, 1.0)
        return weights / weights.sum()


def time_of_day(rng: np.random.Generator, utc_offset_hours: np.ndarray) -> np.ndarray:
    """Seconds after UTC midnight for activity that follows the local daily rhythm.

    The result stays inside the UTC day, so the day of an event is the day it was simulated on.
    """
    n = len(utc_offset_hours)
    local = rng.choice(24, size=n, p=_HOURLY) * 3600 + rng.integers(0, 3600, size=n)
    return ((local - (np.asarray(utc_offset_hours) * 3600).astype(np.int64)) % DAY).astype(np.int64)
