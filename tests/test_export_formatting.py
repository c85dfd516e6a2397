"""The segment files are formatted a whole column at a time (Arrow compute): every cell must be
the text the per-value helpers give (inert_text, amount, ISO dates) and every file the bytes the
csv module writes, on values chosen to hit each rule and on random ones."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pyarrow as pa
import pytest

from retention_pipeline.activation import csv_cells, exports

TRICKY_TEXT = [
    '=HYPERLINK("http://x"&A1,"click")', "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)",
    "\t=1+1", "\r=1+1", "Anna", "+49 30 1234-567", "-12.50", "-12\n", "+1e5", "a=b", "", None,
    "with, comma", 'with "quote"', "line\nbreak", "carriage\rreturn", " leading space", "'",
    "Zoë 東京", "-", "+", "=", "@",
]


def _random_text(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    alphabet = 'ab,"\n\r =+-@\t0123456789().\'/é'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))


@pytest.mark.parametrize("escape", [True, False])
def test_a_column_is_made_inert_as_each_value_is(escape):
    rng = random.Random(5)
    values = TRICKY_TEXT + [_random_text(rng) for _ in range(3000)]
    got = csv_cells.inert_texts(pa.array(values, pa.string()), escape).to_pylist()
    assert got == [csv_cells.inert_text(v, escape) for v in values]


def test_amounts_of_a_decimal_column_round_half_away_from_zero_as_decimal_does():
    values = [Decimal(v) for v in (
        "1.2350", "-1.2350", "1.2349", "-0.0040", "-0.0050", "0.0050", "0.0000", "47443.1449",
        "2.0050", "-2.0050", "99999999.9950", "-0.0001")] + [None]
    rng = random.Random(3)
    values += [Decimal(rng.randint(-10**9, 10**9)).scaleb(-4) for _ in range(3000)]
    column = pa.array(values, pa.decimal128(38, 4))
    assert csv_cells.amounts(column).to_pylist() == [csv_cells.amount(v) for v in values]
    assert csv_cells.amount(Decimal("-0.0040")) == "-0.00"  # the case Arrow alone would print 0.00


def test_amounts_of_other_types_are_formatted_value_by_value():
    doubles = [1.005, -2.675, 3.0, None, 0.125]
    assert csv_cells.amounts(pa.array(doubles)).to_pylist() == [csv_cells.amount(v) for v in doubles]
    whole = pa.array([Decimal(5), Decimal(-3)], pa.decimal128(18, 0))
    assert csv_cells.amounts(whole).to_pylist() == ["5.00", "-3.00"]


@pytest.mark.parametrize("seed", [1, 2])
def test_csv_of_text_cells_is_byte_identical_to_the_csv_module(seed):
    rng = random.Random(seed)
    header = ("a", "b", "c")
    rows = [[rng.choice(TRICKY_TEXT) if rng.random() < 0.3 else _random_text(rng)
             for _ in header] for _ in range(2000)]
    cells = pa.table({name: pa.array([r[i] for r in rows], pa.string())
                      for i, name in enumerate(header)})
    assert csv_cells.csv_text_of_cells(header, cells) == csv_cells.csv_text(header, rows)
    assert csv_cells.csv_text_of_cells(header, cells.slice(0, 0)) == "a,b,c\n"


def test_segment_cells_are_each_members_row_formatted_value_by_value():
    """Members out of order, in several segments, one unknown to dim_customers, formula-like
    ids and labels: rows by segment then customer_id, each cell as the scalar helpers give."""
    customers = pa.table({
        "customer_id": ["c2", "=c1", "c3", "-12"],
        "rfm_segment": ["Champions", "+Risky", None, "Loyal"],
        "member_tier": ["Gold", None, "@Tier", "Silver"],
        "last_occasion_date": pa.array([dt.date(2026, 3, 1), dt.date(2025, 12, 31), None,
                                        dt.date(2026, 1, 2)], pa.date32()),
        "occasions": pa.array([3, 1, None, 12], pa.int64()),
        "net_revenue": pa.array([Decimal("10.0050"), Decimal("-0.0040"), None,
                                 Decimal("5.1250")], pa.decimal128(38, 4)),
    })
    members = pa.table({
        "segment": ["vip", "at_risk", "vip", "vip", "=odd", "at_risk"],
        "segment_label": ["VIP", "At risk", "VIP", "VIP", "=odd", None],
        "customer_id": ["c3", "c2", "c2", "ghost", "=c1", "-12"],
    })
    cells, runs = exports._CustomerColumns(customers, escape=True).segment_cells(members)
    known = {c["customer_id"]: c for c in customers.to_pylist()}
    expected = []
    for m in sorted(members.to_pylist(), key=lambda m: (m["segment"], m["customer_id"])):
        c = known.get(m["customer_id"], {})
        last, revenue = c.get("last_occasion_date"), c.get("net_revenue")
        expected.append({
            "customer_id": csv_cells.inert_text(m["customer_id"]),
            "segment": csv_cells.inert_text(m["segment"]),
            "segment_label": csv_cells.inert_text(m["segment_label"]),
            "rfm_segment": csv_cells.inert_text(c.get("rfm_segment")),
            "member_tier": csv_cells.inert_text(c.get("member_tier")),
            "last_order_date": last.isoformat() if last else None,
            "occasions": None if c.get("occasions") is None else str(c["occasions"]),
            "net_revenue": csv_cells.amount(revenue),
        })
    assert cells.to_pylist() == expected
    assert list(cells.column_names) == list(exports.SEGMENT_COLUMNS)
    assert runs == {"=odd": (0, 1), "at_risk": (1, 2), "vip": (3, 3)}
    assert expected[0]["net_revenue"] == "-0.00" and expected[-1]["customer_id"] == "ghost"


@pytest.mark.parametrize("instants", [False, True], ids=["naive", "utc_instants"])
def test_campaign_cells_are_each_sends_row_formatted_value_by_value(instants):
    """Sends out of order over several campaigns, local times with whole, half-hour and negative
    offsets and fractions of a second; on Spark the two times come back as UTC instants."""
    rng = random.Random(11)
    rows = []
    for n in range(500):
        utc = dt.datetime(2026, 11, 23, 9) + dt.timedelta(seconds=rng.randint(0, 86400 * 30),
                                                         microseconds=rng.randint(0, 999_999))
        offset = dt.timedelta(minutes=rng.choice([0, 60, -300, 330, 345, -570, 840]))
        rows.append({
            "campaign": rng.choice(["win_back", "birthday", "=odd"]),
            "customer_id": rng.choice(["c1", "c2", "-c3", "+49 30 1", "c,5"]) + str(n % 7),
            "dedupe_key": f"k{rng.randint(0, 9)}",
            "channel": "email", "address": rng.choice(["a@x.org", "=cmd", None]),
            "first_name": rng.choice(TRICKY_TEXT), "language": "en",
            "context": rng.choice(['{"a": 1}', None, "@x"]),
            "send_at_local": utc + offset, "send_at_utc": utc,
        })
    table = pa.Table.from_pylist(rows)
    if instants:
        for name in ("send_at_local", "send_at_utc"):
            table = table.set_column(table.column_names.index(name), name,
                                     table[name].cast(pa.timestamp("us", tz="UTC")))
    cells, runs = exports._campaign_cells(table, escape=True)
    ordered = sorted(rows, key=lambda r: (r["campaign"], r["customer_id"], r["dedupe_key"]))
    assert cells.to_pylist() == [
        {**{c: csv_cells.inert_text(r[c]) for c in exports.CAMPAIGN_TEXT},
         "send_at": csv_cells.iso_local(r["send_at_local"], r["send_at_utc"])} for r in ordered]
    assert list(cells.column_names) == list(exports.CAMPAIGN_COLUMNS)
    first = 0
    for campaign in sorted({r["campaign"] for r in rows}):
        count = sum(r["campaign"] == campaign for r in rows)
        assert runs[campaign] == (first, count)
        first += count
    empty, no_runs = exports._campaign_cells(table.slice(0, 0), escape=True)
    assert (len(empty), no_runs) == (0, {})
