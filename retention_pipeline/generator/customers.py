"""Customers: who they are, when they register, when (and whether) they first buy, consents."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.columns import labels, sequential_ids, timestamps
from retention_pipeline.generator.timeline import DAY, Timeline, time_of_day


@dataclass
class Customers:
    """Per-customer arrays, indexed 0..n-1 in registration order (customer_id = index + 1)."""

    n: int
    ids: pa.Array
    country: np.ndarray  # index into ref.COUNTRIES
    utc_offset: np.ndarray  # hours, shapes the time of day only
    acquisition: np.ndarray  # index into ref.ACQUISITION_CHANNELS, -1 = missing
    app_user: np.ndarray
    preferred_channel: np.ndarray  # index into ref.ORDER_CHANNELS
    favourite_category: np.ndarray  # index into ref.CATEGORIES
    created_s: np.ndarray  # registration, epoch seconds
    first_order_s: np.ndarray  # -1 = never buys
    single_purchase: np.ndarray  # forced: exactly one purchase, 30-37 days before the end
    protect_first: np.ndarray  # forced first purchases: never cancelled or refunded
    staff: np.ndarray  # QA accounts: only test orders
    consent: dict[str, np.ndarray]  # channel -> accepts (True only when known and true)
    reachable: dict[str, np.ndarray]  # channel -> has an address (email, phone, token, openid)
    table: pa.Table

    @property
    def buyer(self) -> np.ndarray:
        return self.first_order_s >= 0


def make_customers(rng: np.random.Generator, n: int, timeline: Timeline, first_id: int = 1,
                   id_width: int = 6) -> Customers:
    """`n` customers numbered from `first_id` (a chunk of a larger shop starts further on; all
    its ids have `id_width` digits at least)."""
    country_p = _normalised([c.weight for c in ref.COUNTRIES])
    country = rng.choice(len(ref.COUNTRIES), size=n, p=country_p)
    zone, offset = _zones(rng, country)
    first_order_s, single, protect = _first_orders(rng, n, timeline, offset)
    created_s = _registrations(rng, timeline, offset, first_order_s)

    order = np.argsort(created_s, kind="stable")  # ids follow registration order
    country, zone, offset = country[order], zone[order], offset[order]
    first_order_s, single, protect = first_order_s[order], single[order], protect[order]
    created_s = created_s[order]

    acquisition = rng.choice(len(ref.ACQUISITION_CHANNELS), size=n,
                             p=_normalised([c[1] for c in ref.ACQUISITION_CHANNELS]))
    acquisition[rng.random(n) < 0.02] = -1
    is_cn = country == ref.CN_INDEX
    app_user = rng.random(n) < np.where(is_cn, 0.30, ref.APP_USER_SHARE)
    favourite = rng.choice(len(ref.CATEGORIES), size=n, p=_normalised(ref.CATEGORY_WEIGHTS))
    staff = _staff_accounts(rng, first_order_s)

    ids = sequential_ids("C", n, id_width, start=first_id)
    profile, consent, reachable = _profile(rng, n, ids, country, zone, app_user, timeline, staff)
    preferred = _preferred_channel(rng, is_cn, app_user, acquisition)
    edited = created_s + (rng.random(n) * (timeline.end_s - 1 - created_s)).astype(np.int64)
    updated_s = np.where(rng.random(n) < 0.3, edited, created_s)
    consent_columns = {f"accepts_{ch}": col for ch, col in _consent_columns(rng, consent)}
    table = pa.table({
        "customer_id": ids,
        "created_at": timestamps(created_s),
        **profile,
        "acquisition_channel": labels([c[0] for c in ref.ACQUISITION_CHANNELS], acquisition),
        **consent_columns,
        "wechat_openid": _tokens(rng, reachable["wechat"], "o", 27),
        "push_token": _tokens(rng, reachable["push"], "pt_", 32),
        "updated_at": timestamps(updated_s),
    })
    return Customers(
        n=n, ids=ids, country=country, utc_offset=offset, acquisition=acquisition,
        app_user=app_user, preferred_channel=preferred, favourite_category=favourite,
        created_s=created_s, first_order_s=first_order_s, single_purchase=single,
        protect_first=protect, staff=staff, consent=consent, reachable=reachable, table=table,
    )


def _normalised(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _zones(rng, country):
    zone = np.empty(len(country), dtype=object)
    offset = np.zeros(len(country))
    for ci, c in enumerate(ref.COUNTRIES):
        rows = np.flatnonzero(country == ci)
        pick = rng.choice(len(c.zones), size=len(rows), p=_normalised([z[1] for z in c.zones]))
        zone[rows] = np.array([z[0] for z in c.zones], dtype=object)[pick]
        offset[rows] = np.array([z[2] for z in c.zones])[pick]
    return zone, offset


def _first_orders(rng, n, timeline: Timeline, offset):
    """First purchase time of each buyer (-1: registers, never buys).

    One buyer per day from the most recent day backwards guarantees a first purchase every day
    (yesterday and the last day included); the rest follow the shop's traffic.
    """
    days = timeline.days
    n_buyers = n - round(n * ref.NON_BUYER_SHARE) if n > 1 else n
    buyers = rng.permutation(n)[:n_buyers]
    covered = min(n_buyers, days)
    first_day = np.full(n, -1, dtype=np.int64)
    first_day[buyers[:covered]] = days - 1 - np.arange(covered)
    rest = buyers[covered:]
    first_day[rest] = rng.choice(days, size=len(rest), p=timeline.activity_weights())

    protect = np.zeros(n, dtype=bool)
    protect[buyers[:covered]] = True  # the day's guaranteed first purchase must stay valid
    single = np.zeros(n, dtype=bool)
    window = (days - 1 - 37, days - 1 - 30)  # 30-37 days before the end
    if window[0] >= 0 and n_buyers >= 40:
        in_window = buyers[(first_day[buyers] >= window[0]) & (first_day[buyers] <= window[1])]
        pick = in_window[: max(1, n // 500)]
        single[pick] = protect[pick] = True

    first_s = np.full(n, -1, dtype=np.int64)
    b = first_day >= 0
    first_s[b] = timeline.day_start(first_day[b]) + time_of_day(rng, offset[b])
    return first_s, single, protect


def _registrations(rng, timeline: Timeline, offset, first_order_s):
    """Most buyers register in the session of their first order, the others days before."""
    n = len(first_order_s)
    buyer = first_order_s >= 0
    same_session = rng.random(n) < 0.55
    delay = np.where(same_session, rng.integers(120, 1800, size=n),
                     (rng.exponential(25, size=n) * DAY).astype(np.int64))
    created = first_order_s - delay  # may precede the history: registered long ago
    browse_day = rng.choice(timeline.days, size=n, p=timeline.activity_weights())
    browse = timeline.day_start(browse_day) + time_of_day(rng, offset)
    return np.where(buyer, created, browse).astype(np.int64)


def _staff_accounts(rng, first_order_s) -> np.ndarray:
    """Two QA accounts among non-buyers place the shop's test orders."""
    staff = np.zeros(len(first_order_s), dtype=bool)
    candidates = np.flatnonzero(first_order_s < 0)
    if len(first_order_s) >= 200 and len(candidates) >= 2:
        staff[rng.choice(candidates, size=2, replace=False)] = True
    return staff


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _profile(rng, n, ids, country, zone, app_user, timeline: Timeline, staff):
    first, ascii_first, language, gender = _names(rng, n, country, staff)
    reachable, consent = _reachability(rng, n, country, app_user, staff)
    domains = np.array(ref.EMAIL_DOMAINS, dtype=object)
    domain = domains[rng.integers(0, len(domains), n)]
    email = pc.binary_join_element_wise(pa.array(ascii_first, pa.string()), ".",
                                        pc.utf8_lower(ids), "@", pa.array(domain, pa.string()), "")
    calling = np.array([c.calling_code for c in ref.COUNTRIES], dtype=object)[country]
    number = pc.cast(pa.array(rng.integers(200_000_000, 999_999_999, size=n)), pa.string())
    phone = pc.binary_join_element_wise("+", pa.array(calling, pa.string()), number, "")
    profile = {
        "email": _where(reachable["email"], email),
        "phone": _where(reachable["sms"], phone),
        "first_name": pa.array(first, pa.string(), mask=rng.random(n) < 0.03),
        "birthday": _birthdays(rng, n, timeline),
        "gender": labels([g[0] for g in ref.GENDERS], gender),
        "country": labels([c.code for c in ref.COUNTRIES], country),
        "language": pa.array(language, pa.string(), mask=rng.random(n) < 0.03),
        "timezone": pa.array(zone, pa.string(), mask=rng.random(n) < 0.04),
    }
    return profile, consent, reachable


def _names(rng, n, country, staff):
    """First names by country and gender (ASCII forms for e-mail addresses), languages."""
    gender_p = [g[1] for g in ref.GENDERS]
    gender = rng.choice(len(ref.GENDERS) + 1, size=n, p=[*gender_p, 1 - sum(gender_p)])
    gender[gender == len(ref.GENDERS)] = -1  # missing
    female = (gender == 0) | ((gender != 1) & (rng.random(n) < 0.5))
    pick = rng.integers(0, 8, size=n)
    first = np.empty(n, dtype=object)
    ascii_first = np.empty(n, dtype=object)
    language = np.empty(n, dtype=object)
    for ci, c in enumerate(ref.COUNTRIES):
        rows = country == ci
        names = np.array(c.female_names + c.male_names, dtype=object)
        plain = np.array([_ascii(x) for x in names], dtype=object)
        choice = np.where(female[rows], pick[rows], pick[rows] + len(c.female_names))
        first[rows], ascii_first[rows] = names[choice], plain[choice]
        langs = np.array([x[0] for x in c.languages], dtype=object)
        language[rows] = langs[rng.choice(len(langs), size=int(rows.sum()),
                                          p=_normalised([x[1] for x in c.languages]))]
    first[staff], ascii_first[staff] = "QA", "qa"
    return first, ascii_first, language, gender


def _reachability(rng, n, country, app_user, staff):
    """Per channel: has an address, and consented. Consent and address are drawn apart, so
    some consent without an address (the contact policy's no_address case)."""
    is_cn = country == ref.CN_INDEX
    reachable = {
        "email": (rng.random(n) < ref.EMAIL_PRESENT) | staff,
        "sms": rng.random(n) < ref.PHONE_PRESENT,
        "push": app_user & (rng.random(n) < ref.PUSH_TOKEN_PRESENT),
        "wechat": rng.random(n) < np.where(is_cn, ref.OPENID_PRESENT_CN, 0.01),
    }
    wechat_p = np.where(is_cn, ref.ACCEPTS_WECHAT_CN, 0.5)
    consent = {
        "email": rng.random(n) < ref.ACCEPTS_EMAIL,
        "sms": rng.random(n) < ref.ACCEPTS_SMS,
        "push": app_user & (rng.random(n) < ref.ACCEPTS_PUSH_APP),
        "wechat": reachable["wechat"] & (rng.random(n) < wechat_p),
    }
    return reachable, consent


def _where(present: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(present), values, pa.scalar(None, pa.string()))


def _birthdays(rng, n, timeline: Timeline) -> pa.Array:
    """Ages 18-75; some 29 February birthdays and one birthday on the last day are guaranteed."""
    end = np.datetime64(timeline.end.isoformat())
    age_days = (18 * 365.25 + rng.beta(2.0, 3.5, size=n) * 57 * 365.25).astype(np.int64)
    birthday = end - age_days
    present = rng.random(n) < 0.87
    rows = np.flatnonzero(present)
    if len(rows):
        leap_years = np.arange(1952, 2005, 4)
        forced = rng.choice(rows, size=min(len(rows), max(1, n // 1500) + 1), replace=False)
        years = rng.choice(leap_years, size=len(forced))
        birthday[forced[:-1]] = [np.datetime64(f"{y}-02-29") for y in years[:-1]]
        md = timeline.end.strftime("%m-%d")
        year = years[-1] if md == "02-29" else years[-1] - 1  # a year where the date exists
        birthday[forced[-1]] = np.datetime64(f"{year}-{md}")
    return pa.array(birthday.astype("datetime64[D]"), pa.date32(), mask=~present)


def _preferred_channel(rng, is_cn, app_user, acquisition):
    n = len(is_cn)
    channel = np.full(n, ref.WEB)
    channel[app_user & (rng.random(n) < 0.7)] = ref.APP
    channel[is_cn & (rng.random(n) < 0.55)] = ref.WECHAT
    channel[(acquisition == ref.MARKETPLACE_CHANNEL) & (rng.random(n) < 0.7)] = ref.MARKETPLACE
    return channel


def _consent_columns(rng, consent):
    """Consent columns with a few unknown values; `consent` becomes "known and true"."""
    n = len(consent["email"])
    for channel in ("email", "sms", "push", "wechat"):
        unknown = rng.random(n) < ref.CONSENT_MISSING
        # Unknown consent is no consent for the campaigns.
        consent[channel] = consent[channel] & ~unknown
        yield channel, pa.array(consent[channel], pa.bool_(), mask=unknown)


def _tokens(rng, present: np.ndarray, prefix: str, length: int) -> pa.Array:
    """Opaque tokens (push tokens, WeChat openids): hex digits after a prefix."""
    n = len(present)
    raw = np.frombuffer(rng.bytes(n * length // 2 + n).hex().encode()[: n * length],
                        dtype=f"S{length}")
    return _where(present, pc.binary_join_element_wise(prefix, pa.array(raw).cast(pa.string()), ""))
