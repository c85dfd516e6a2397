"""The shop's own past messages (newsletters, push, SMS, WeChat) with opens and clicks, and
unsubscribes. An unsubscribe event is the only record of it: the customer row keeps its old
accepts_* flag, as exports from a CRM often do; the contact policy has to read the events."""

from __future__ import annotations

import datetime as dt

import numpy as np

from retention_pipeline.generator import jsontext as js
from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.customers import Customers
from retention_pipeline.generator.events import CLICK, OPEN, UNSUBSCRIBE, EventBatch
from retention_pipeline.generator.segments import position_in_segment
from retention_pipeline.generator.timeline import Timeline

# channel -> (day of month, hour UTC, months it is sent in (None: every month), campaign name)
_SENDS = {
    "email": (1, 10, None, "newsletter"),
    "push": (15, 17, None, "weekend_deals"),
    "sms": (1, 12, (3, 6, 9, 11), "seasonal_sale"),
    "wechat": (8, 12, None, "member_news"),
}
_CHANNELS = tuple(c for c, _ in ref.UNSUBSCRIBE_SHARES)


def unsubscribe_times(rng, customers: Customers, timeline: Timeline) -> dict[str, np.ndarray]:
    """Per channel, when each customer unsubscribed (-1: never). Only those who had consented."""
    lo = np.maximum(customers.created_s, timeline.start_s)
    times = {}
    for channel, share in ref.UNSUBSCRIBE_SHARES:
        leaves = customers.consent[channel] & (rng.random(customers.n) < share)
        at = lo + (rng.random(customers.n) * (timeline.end_s - lo)).astype(np.int64)
        times[channel] = np.where(leaves, at, -1)
    return times


def unsubscribe_events(unsubscribed: dict[str, np.ndarray]) -> list[EventBatch]:
    batches = []
    for ci, channel in enumerate(_CHANNELS):
        who = np.flatnonzero(unsubscribed[channel] >= 0)
        batches.append(EventBatch.of(unsubscribed[channel][who], UNSUBSCRIBE, who, js.json_objects(
            len(who), channel=js.vocabulary(_CHANNELS, np.full(len(who), ci)))))
    return batches


def message_events(rng, customers: Customers, unsubscribed: dict[str, np.ndarray],
                   timeline: Timeline) -> list[EventBatch]:
    """Opens and clicks of the sends each consenting, reachable customer got before leaving."""
    batches = []
    for ci, channel in enumerate(_CHANNELS):
        send_s, names = _send_calendar(channel, timeline)
        if not len(send_s):
            continue
        receives = customers.consent[channel] & customers.reachable[channel] & ~customers.staff
        stop = np.where(unsubscribed[channel] >= 0, unsubscribed[channel], timeline.end_s)
        first = np.searchsorted(send_s, customers.created_s, side="right")
        count = np.where(receives, np.maximum(np.searchsorted(send_s, stop) - first, 0), 0)
        who = np.repeat(np.arange(customers.n), count)
        send = first[who] + position_in_segment(count)
        # SMS has no open tracking: only clicks.
        opened = rng.random(len(who)) < (1.0 if channel == "sms" else ref.MESSAGE_OPEN_RATE)
        click_rate = 0.03 if channel == "sms" else ref.MESSAGE_CLICK_RATE
        clicked = opened & (rng.random(len(who)) < click_rate)
        open_s = send_s[send] + rng.exponential(6 * 3600, len(who)).astype(np.int64)
        click_s = open_s + rng.integers(5, 600, len(who))
        opened &= open_s < stop[who]  # nothing is opened after leaving the channel
        clicked &= click_s < stop[who]
        for flag, times, code in ((opened, open_s, OPEN), (clicked, click_s, CLICK)):
            if code == OPEN and channel == "sms":
                continue
            rows = np.flatnonzero(flag)
            batches.append(EventBatch.of(times[rows], code, who[rows], js.json_objects(
                len(rows), channel=js.vocabulary(_CHANNELS, np.full(len(rows), ci)),
                campaign=js.vocabulary(names, send[rows]))))
    return batches


def _send_calendar(channel: str, timeline: Timeline):
    day, hour, months, name = _SENDS[channel]
    sends, names = [], []
    month = dt.date(timeline.start.year, timeline.start.month, 1)
    while month <= timeline.end:
        at = dt.datetime(month.year, month.month, day, hour, tzinfo=dt.UTC)
        in_season = months is None or month.month in months
        if in_season and timeline.start <= at.date() <= timeline.end:
            sends.append(int(at.timestamp()))
            names.append(f"{name}-{month:%Y-%m}")
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return np.array(sends, dtype=np.int64), tuple(names)
