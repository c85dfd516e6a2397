"""The sample shop generator (`retention generate`): contract, determinism, edge cases, behaviour.

Behaviour is measured on the written files with pandas, independently of the generator's code.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from retention_pipeline.generator import generate_shop

END = dt.date(2026, 11, 21)
END_TS = pd.Timestamp(END, tz="UTC")
NEXT_DAY = END_TS + pd.Timedelta(days=1)
YESTERDAY = END - dt.timedelta(days=1)

# The landing contract (README, docs/metrics.md#inputs), in contract order.
CONTRACT = {
    "customers": ["customer_id", "created_at", "email", "phone", "first_name", "birthday",
                  "gender", "country", "language", "timezone", "acquisition_channel",
                  "accepts_email", "accepts_sms", "accepts_push", "accepts_wechat",
                  "wechat_openid", "push_token", "updated_at"],
    "products": ["product_id", "name", "category", "price", "launched_at", "updated_at"],
    "orders": ["order_id", "customer_id", "ordered_at", "total_amount", "status", "currency",
               "discount_amount", "refunded_amount", "coupon_code", "channel", "shipped_at",
               "delivered_at", "promised_delivery_date", "updated_at"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price", "line_id"],
    "events": ["event_id", "event_type", "occurred_at", "customer_id", "properties"],
}
TIMESTAMPS = {"customers": ["created_at", "updated_at"], "products": ["launched_at", "updated_at"],
              "orders": ["ordered_at", "shipped_at", "delivered_at", "updated_at"],
              "events": ["occurred_at"]}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


class Shop:
    """The generated files, parsed."""

    def __init__(self, folder: Path):
        self.folder = folder
        read = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False,
                                  na_values=[""]) for name in CONTRACT}
        for name, columns in TIMESTAMPS.items():
            for column in columns:
                read[name][column] = pd.to_datetime(read[name][column], utc=True)
        self.customers, self.products = read["customers"], read["products"]
        self.orders, self.items, self.events = read["orders"], read["order_items"], read["events"]
        for column in ("total_amount", "discount_amount", "refunded_amount"):
            self.orders[column + "_cents"] = _cents(self.orders[column])
        self.items["unit_cents"] = _cents(self.items["unit_price"])
        self.items["quantity"] = self.items["quantity"].astype(int)
        self.events["props"] = self.events["properties"].map(json.loads)

    def events_of(self, event_type: str) -> pd.DataFrame:
        rows = self.events[self.events.event_type == event_type].copy()
        props = pd.DataFrame(rows["props"].tolist(), index=rows.index)
        return rows.join(props)

    def occasions(self) -> pd.DataFrame:
        """Valid purchases (docs/metrics.md#valid-purchase) grouped per customer and UTC date,
        numbered."""
        o = self.orders
        refunded = o.refunded_amount_cents.fillna(0)
        valid = o[o.customer_id.notna() & ~o.status.isin(["cancelled", "test"])
                  & ~((o.total_amount_cents > 0) & (refunded >= o.total_amount_cents))]
        occ = (valid.assign(date=valid.ordered_at.dt.date)
               .groupby(["customer_id", "date"]).size().rename("orders").reset_index()
               .sort_values(["customer_id", "date"]))
        occ["seq"] = occ.groupby("customer_id").cumcount() + 1
        return occ

    def first_orders(self, matured_days: int) -> pd.DataFrame:
        """Each customer's first order (any status but test), if at least `matured_days` old,
        with `repeat` = a later order date that is not cancelled."""
        o = self.orders[self.orders.customer_id.notna() & (self.orders.status != "test")]
        o = o.sort_values(["ordered_at", "order_id"])
        first = o.groupby("customer_id").head(1).set_index("customer_id")
        kept = o[o.status != "cancelled"]
        last_day = kept.groupby("customer_id").ordered_at.max().dt.floor("D")
        first = first[first.ordered_at <= END_TS - pd.Timedelta(days=matured_days)].copy()
        first["repeat"] = last_day.reindex(first.index) > first.ordered_at.dt.floor("D")
        return first


def _cents(values: pd.Series) -> pd.Series:
    return (values.astype(float) * 100).round().astype("Int64")


def _generate(folder: Path, customers: int, **kwargs) -> dict[str, int]:
    return generate_shop(folder, customers=customers, end=END, **kwargs)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Shop:
    folder = tmp_path_factory.mktemp("shop")
    rows = _generate(folder, 5000, seed=42)
    parsed = Shop(folder)
    parsed.rows = rows
    return parsed


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    _generate(tmp_path / "a", 1500, seed=7)
    _generate(tmp_path / "b", 1500, seed=7)
    _generate(tmp_path / "c", 1500, seed=8)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert sorted(a) == [f"{name}.csv" for name in sorted(CONTRACT)]
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_files_have_exactly_the_contract_columns(shop):
    for name, columns in CONTRACT.items():
        with open(shop.folder / f"{name}.csv", newline="") as f:
            assert next(csv.reader(f)) == columns, name
    assert shop.rows == {name: len(getattr(shop, attr)) for name, attr in (
        ("customers", "customers"), ("products", "products"), ("orders", "orders"),
        ("order_items", "items"), ("events", "events"))}


def test_text_formats(shop):
    raw = {name: pd.read_csv(shop.folder / f"{name}.csv", dtype=str, keep_default_na=False)
           for name in CONTRACT}
    for name, columns in TIMESTAMPS.items():
        for column in columns:
            values = raw[name][column]
            if column in ("shipped_at", "delivered_at"):  # empty until it happens
                values = values[values != ""]
            assert values.str.match(ISO_UTC).all(), (name, column, values.head(3).tolist())
    birthdays = raw["customers"].birthday
    assert birthdays.str.fullmatch(r"\d{4}-\d{2}-\d{2}|").all()
    assert (birthdays == "").any()  # optional: some missing
    for column in ("accepts_email", "accepts_sms", "accepts_push", "accepts_wechat"):
        assert set(raw["customers"][column]) == {"true", "false", ""}, column
    for column in ("total_amount", "discount_amount"):
        assert raw["orders"][column].str.fullmatch(r"\d+\.\d{2}").all()
    props = shop.events["props"]
    assert props.map(lambda p: isinstance(p, dict)).all()


def test_ids_unique_and_references_resolve(shop):
    for frame, key in ((shop.customers, "customer_id"), (shop.products, "product_id"),
                       (shop.orders, "order_id"), (shop.events, "event_id"),
                       (shop.items, "line_id")):
        assert frame[key].notna().all() and frame[key].is_unique, key
    customers, products = set(shop.customers.customer_id), set(shop.products.product_id)
    orders = set(shop.orders.order_id)
    assert set(shop.items.order_id) == orders  # every order has lines, every line an order
    assert set(shop.items.product_id) <= products
    assert set(shop.orders.customer_id.dropna()) <= customers
    assert set(shop.events.customer_id.dropna()) <= customers
    with_order = shop.events.props.map(lambda p: p.get("order_id")).dropna()
    assert len(with_order) > 0 and set(with_order) <= orders
    with_product = shop.events.props.map(lambda p: p.get("product_id")).dropna()
    assert set(with_product) <= products


def test_no_order_before_its_product_launched(shop):
    lines = shop.items.merge(shop.orders[["order_id", "ordered_at"]], on="order_id").merge(
        shop.products[["product_id", "launched_at"]], on="product_id")
    assert (lines.ordered_at >= lines.launched_at).all()
    coming = shop.products[shop.products.launched_at >= NEXT_DAY]
    assert not set(coming.product_id) & set(shop.items.product_id)


def test_nothing_happens_after_the_end_or_before_registration(shop):
    assert (shop.orders.ordered_at < NEXT_DAY).all()
    assert (shop.orders.updated_at < NEXT_DAY).all()
    assert (shop.orders.updated_at >= shop.orders.ordered_at).all()
    assert (shop.events.occurred_at < NEXT_DAY).all()
    assert (shop.customers.created_at < NEXT_DAY).all()
    assert (shop.products.updated_at < NEXT_DAY).all()
    first = shop.orders.groupby("customer_id").ordered_at.min()
    created = shop.customers.set_index("customer_id").created_at
    assert (created.reindex(first.index) <= first).all()


def test_amounts_are_consistent(shop):
    o = shop.orders.set_index("order_id")
    line_total = (shop.items.quantity * shop.items.unit_cents).groupby(shop.items.order_id).sum()
    assert (line_total.reindex(o.index) - o.discount_amount_cents == o.total_amount_cents).all()
    assert (o.discount_amount_cents >= 0).all() and (o.total_amount_cents >= 0).all()
    assert ((o.discount_amount_cents > 0) <= o.coupon_code.notna()).all()
    refunded = o[o.status == "refunded"]
    assert (refunded.refunded_amount_cents == refunded.total_amount_cents).all()
    partial = o[o.status == "partially_refunded"]
    assert ((partial.refunded_amount_cents > 0)
            & (partial.refunded_amount_cents < partial.total_amount_cents)).all()
    others = o[~o.status.isin(["refunded", "partially_refunded"])]
    assert others.refunded_amount.isna().all()
    # refunds come days after the order
    assert ((refunded.updated_at - refunded.ordered_at) > pd.Timedelta(days=2)).all()
    assert (o.total_amount_cents == 0).sum() >= 1  # a handful of zero-value orders


def test_shares_are_realistic(shop):
    o, c = shop.orders, shop.customers
    status = o.status.fillna("completed").value_counts(normalize=True)
    assert 0.02 < status["cancelled"] < 0.04
    assert 0.005 < status["refunded"] < 0.025
    assert 0.01 < status["partially_refunded"] < 0.035
    assert status["completed"] > 0.85
    assert 0.01 < o.customer_id.isna().mean() < 0.03  # guests
    assert 0.12 < o.coupon_code.notna().mean() < 0.19
    assert set(o.channel) == {"web", "app", "wechat_mini_program", "marketplace"}
    assert 0.15 < 1 - c.customer_id.isin(o.customer_id).mean() < 0.3  # never buy
    consent = {ch: (c[f"accepts_{ch}"] == "true").mean() for ch in ("email", "sms")}
    assert 0.55 < consent["email"] < 0.65 and 0.25 < consent["sms"] < 0.35
    app_users = c.push_token.notna()
    assert 0.3 < (c.accepts_push[app_users] == "true").mean() < 0.5
    assert (c.accepts_push[~app_users] != "true").mean() > 0.95
    assert (c.accepts_wechat == "true")[c.country != "CN"].mean() < 0.02
    assert (c.accepts_wechat == "true")[c.country == "CN"].mean() > 0.4
    for column, low in (("email", 0.9), ("phone", 0.6), ("first_name", 0.9)):
        assert low < c[column].notna().mean() < 1, column
    assert 0 < c.wechat_openid.notna().mean() < 0.2


def test_profiles_match_their_country(shop):
    c = shop.customers
    zones = {"US": {"America/New_York", "America/Chicago", "America/Los_Angeles"},
             "DE": {"Europe/Berlin"}, "FR": {"Europe/Paris"}, "GB": {"Europe/London"},
             "JP": {"Asia/Tokyo"}, "CN": {"Asia/Shanghai"}, "AU": {"Australia/Sydney"},
             "BR": {"America/Sao_Paulo"}}
    languages = {"US": {"en", "es"}, "DE": {"de"}, "FR": {"fr"}, "GB": {"en"}, "JP": {"ja"},
                 "CN": {"zh"}, "AU": {"en"}, "BR": {"pt"}}
    assert set(c.country) == set(zones)
    for country, group in c.groupby("country"):
        assert set(group.timezone.dropna()) == zones[country]
        assert set(group.language.dropna()) == languages[country]
    assert {"organic", "paid_search", "social", "referral", "email", "marketplace"} <= set(
        c.acquisition_channel.dropna())


def test_required_edge_cases_exist(shop):
    c, o, p = shop.customers, shop.orders, shop.products
    assert (c.birthday.str[5:] == "02-29").sum() >= 2
    assert (c.birthday.str[5:] == END.strftime("%m-%d")).any()

    occ = shop.occasions()
    firsts = occ[occ.seq == 1]
    assert {END, YESTERDAY} <= set(firsts.date)
    history = {END - dt.timedelta(days=k) for k in range(730)}
    assert history <= set(firsts.date)  # continuous acquisition: a first purchase every day
    once = occ.groupby("customer_id").filter(lambda g: len(g) == 1)
    age = once.date.map(lambda d: (END - d).days)
    assert age.between(30, 37).sum() >= 5
    assert (occ.orders >= 2).sum() >= 5  # two orders on one day

    assert p.launched_at.between(NEXT_DAY, NEXT_DAY + pd.Timedelta(days=3)).sum() >= 2
    assert (p.launched_at >= NEXT_DAY + pd.Timedelta(days=5)).sum() == 0
    assert p.launched_at.between(END_TS - pd.Timedelta(days=6), NEXT_DAY,
                                 inclusive="left").sum() >= 2
    assert p.launched_at.min() < END_TS - pd.Timedelta(days=730)

    statuses = set(o.status.dropna())
    assert statuses == {"placed", "paid", "shipped", "completed", "cancelled", "refunded",
                        "partially_refunded", "test"}
    assert o.status.isna().any()  # missing status = completed
    recent = o[o.status.isin(["placed", "paid", "shipped"])]
    assert (recent.ordered_at >= END_TS - pd.Timedelta(days=14)).all()

    unsubscribed = shop.events_of("unsubscribe")
    assert set(unsubscribed.channel) == {"email", "sms", "push", "wechat"}
    accepts = c.set_index("customer_id")
    for channel, group in unsubscribed.groupby("channel"):
        # The profile still says yes: only the event tells the consent was withdrawn.
        assert (accepts.loc[group.customer_id, f"accepts_{channel}"] == "true").all()


def test_after_sales_cases_yesterday(shop):
    day = shop.events[shop.events.occurred_at.dt.date == YESTERDAY]
    assert {"complaint", "return_requested"} <= set(day.event_type)
    tickets = shop.events_of("support_ticket")
    assert (~tickets.resolved[tickets.occurred_at.dt.date == YESTERDAY]).any()
    assert tickets.first_response_minutes.map(type).eq(int).all()
    assert tickets.resolved.map(type).eq(bool).all()
    reviews = shop.events_of("review")
    assert set(reviews.rating) == {1, 2, 3, 4, 5}
    returns = shop.events_of("return_requested")
    pairs = set(zip(shop.items.order_id, shop.items.product_id, strict=True))
    assert set(zip(returns.order_id, returns.product_id, strict=True)) <= pairs


def test_event_mix(shop):
    counts = shop.events.event_type.value_counts()
    expected = {"session_start", "page_view", "product_view", "add_to_cart", "checkout_started",
                "search", "support_ticket", "complaint", "return_requested", "review",
                "message_open", "message_click", "unsubscribe"}
    assert set(counts.index) == expected
    assert counts["checkout_started"] >= 0.9 * len(shop.orders)
    assert len(shop.events) < 30 * len(shop.orders)  # a few per order, not a firehose
    browsers = set(shop.events.customer_id.dropna()) - set(shop.orders.customer_id.dropna())
    assert len(browsers) > 100  # non-buyers browse too


def test_consumables_repurchase_on_their_cycle(shop):
    lines = shop.items.merge(shop.orders[["order_id", "customer_id", "ordered_at", "status"]],
                             on="order_id").merge(shop.products[["product_id", "category"]],
                                                  on="product_id")
    lines = lines[lines.customer_id.notna() & ~lines.status.isin(["cancelled", "test"])]
    days = (lines.assign(date=lines.ordered_at.dt.floor("D"))
            [["customer_id", "category", "date"]].drop_duplicates()
            .sort_values(["customer_id", "category", "date"]))
    gaps = days.groupby(["customer_id", "category"]).date.diff().dt.days.groupby(
        days.category).median()
    assert 12 <= gaps["diapers"] <= 18
    assert 26 <= gaps["coffee"] <= 35
    assert 39 <= gaps["detergent"] <= 54
    assert 52 <= gaps["skincare"] <= 70
    assert gaps["diapers"] < gaps["coffee"] < gaps["detergent"] < gaps["skincare"]


def test_bad_experiences_lower_repurchase(shop):
    first = shop.first_orders(matured_days=120)

    problems = pd.concat([shop.events_of("return_requested"), shop.events_of("complaint")])
    had_problem = first.order_id.isin(set(problems.order_id))
    assert had_problem.sum() >= 100
    with_problem, without = first.repeat[had_problem].mean(), first.repeat[~had_problem].mean()
    assert with_problem < 0.6 * without, (with_problem, without)

    tickets = shop.events_of("support_ticket").groupby("order_id").first_response_minutes.min()
    minutes = first.order_id.map(tickets)
    bucket = pd.cut(minutes, [0, 60, 24 * 60, np.inf], right=False,
                    labels=["< 1 h", "1-24 h", "> 24 h"])
    rates = first.repeat.groupby(bucket, observed=False).agg(["mean", "size"])
    assert (rates["size"] >= 50).all(), rates
    fast, slow, very_slow = rates["mean"]
    assert fast > slow + 0.03 and slow > very_slow + 0.03, rates

    ratings = shop.events_of("review").groupby("product_id").rating.mean()
    low_rated = set(ratings[ratings < 3].index)
    first_lines = shop.items[shop.items.order_id.isin(first.order_id)]
    bought_low = first_lines.groupby("order_id").product_id.agg(lambda s: bool(set(s) & low_rated))
    got_low = first.order_id.map(bought_low)
    assert got_low.sum() >= 100
    assert first.repeat[got_low].mean() < 0.8 * first.repeat[~got_low].mean()


def test_parquet_is_readable_and_holds_the_same_data(tmp_path):
    _generate(tmp_path / "csv", 800, seed=3)
    rows = _generate(tmp_path / "pq", 800, seed=3, fmt="parquet")
    _generate(tmp_path / "pq2", 800, seed=3, fmt="parquet")
    assert _digest(tmp_path / "pq") == _digest(tmp_path / "pq2")
    for name, columns in CONTRACT.items():
        table = pq.read_table(tmp_path / "pq" / f"{name}.parquet")
        assert table.column_names == columns
        assert table.num_rows == rows[name]
    con = duckdb.connect()
    query = ("select order_id, coalesce(customer_id, '') c, epoch(ordered_at) t, "
             "total_amount::decimal(18, 2), coalesce(refunded_amount, -1)::decimal(18, 2), "
             "coalesce(status, '') s from {} order by order_id")
    from_parquet = con.sql(query.format(f"'{tmp_path / 'pq' / 'orders.parquet'}'")).fetchall()
    from_csv = con.sql(query.format(f"read_csv('{tmp_path / 'csv' / 'orders.csv'}')")).fetchall()
    assert from_parquet == from_csv
    types = dict(con.sql(f"describe select * from '{tmp_path / 'pq' / 'customers.parquet'}'")
                 .fetchall()[i][:2] for i in range(len(CONTRACT["customers"])))
    assert types["birthday"] == "DATE" and types["accepts_sms"] == "BOOLEAN"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_split_daily_drops(tmp_path):
    whole, daily = tmp_path / "whole", tmp_path / "daily"
    _generate(whole, 600, seed=5, history_days=90)
    _generate(daily, 600, seed=5, history_days=90, split_daily=True)
    assert sorted(p.name for p in daily.iterdir()) == [
        "customers.csv", "events", "order_items", "orders", "products.csv"]
    con = duckdb.connect()
    files = sorted((daily / "orders").iterdir())
    assert files[-1].name == f"{END}.csv"
    for entity, column in (("orders", "updated_at"), ("events", "occurred_at")):
        wrong = con.sql(f"""select count(*) from read_csv('{daily / entity}/*.csv',
                filename = true, types = {{'{column}': 'TIMESTAMPTZ'}})
            where strftime({column} at time zone 'UTC', '%Y-%m-%d') || '.csv'
                  <> parse_filename(filename)""").fetchall()[0][0]
        assert wrong == 0, entity
    # Re-sent orders: the latest version of each order is the single-file row.
    latest = con.sql(f"""select order_id, status, updated_at, refunded_amount from (
            select *, row_number() over (partition by order_id order by updated_at desc) rn
            from read_csv('{daily}/orders/*.csv', all_varchar = true)) where rn = 1
        order by order_id""").fetchall()
    single = con.sql(f"""select order_id, status, updated_at, refunded_amount
        from read_csv('{whole}/orders.csv', all_varchar = true) order by order_id""").fetchall()
    assert latest == single
    resent = con.sql(f"select count(*) - count(distinct order_id) from "
                     f"read_csv('{daily}/orders/*.csv', all_varchar = true)").fetchall()[0][0]
    assert resent > 0

    # Writing the single-file layout again replaces the daily folders.
    _generate(daily, 600, seed=5, history_days=90)
    assert _digest(daily) == _digest(whole)


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="customers"):
        generate_shop(tmp_path, customers=0)
    with pytest.raises(ValueError, match="fmt"):
        generate_shop(tmp_path, customers=10, fmt="xlsx")
    with pytest.raises(ValueError, match="history_days"):
        generate_shop(tmp_path, customers=10, history_days=5)
    with pytest.raises(ValueError, match="days"):
        generate_shop(tmp_path, customers=10, days=-1)
    with pytest.raises(ValueError, match="orders_per_customer"):
        generate_shop(tmp_path, customers=10, orders_per_customer=0)


def test_tiny_shop_still_works(tmp_path):
    rows = _generate(tmp_path, 3, seed=1)
    assert rows["customers"] == 3 and rows["orders"] >= 1
    assert Shop(tmp_path).orders.order_id.is_unique


def test_end_defaults_to_today_utc(tmp_path):
    generate_shop(tmp_path, customers=30, seed=1)
    today = dt.datetime.now(dt.UTC).date()
    ordered = Shop(tmp_path).orders.ordered_at.dt.date
    assert ordered.max() in (today, today - dt.timedelta(days=1))  # a run across midnight


@pytest.mark.slow
def test_hundred_thousand_customers_well_under_a_minute(tmp_path):
    started = time.perf_counter()
    rows = _generate(tmp_path, 100_000, seed=42)
    elapsed = time.perf_counter() - started
    assert rows["orders"] > 100_000 and rows["events"] > 1_000_000
    assert elapsed < 45, f"{elapsed:.1f} s"


def test_deliveries_follow_the_order_and_have_a_late_tail(shop):
    o = shop.orders
    promised = pd.to_datetime(o.promised_delivery_date)
    assert (o.shipped_at.dropna() >= o.ordered_at[o.shipped_at.notna()]).all()
    both = o.delivered_at.notna()
    assert (o.delivered_at[both] >= o.shipped_at[both]).all()
    assert o.delivered_at[o.shipped_at.isna()].isna().all()
    assert o.shipped_at[o.status.isin(["cancelled", "test", "placed", "paid"])].isna().all()
    delivered_day = o.delivered_at.dt.tz_localize(None).dt.normalize()
    late = (delivered_day - promised).dt.days.dropna()
    assert 0.7 < (late <= 0).mean() < 0.9
    assert 0.07 < late.between(1, 2).mean() < 0.16
    assert 0.04 < (late > 2).mean() < 0.11
    # lost parcels: shipped, promised long ago, never delivered
    old = promised < pd.Timestamp(END) - pd.Timedelta(days=14)
    lost = o.shipped_at.notna() & o.delivered_at.isna() & old
    assert lost.sum() >= 5
    assert 0.02 < o.promised_delivery_date.isna().mean() < 0.07


def test_unfinished_checkouts_of_existing_customers_yesterday(shop):
    e, occ = shop.events, shop.occasions()
    day = e.occurred_at.dt.date
    checkouts = e[(e.event_type == "checkout_started") & (day == YESTERDAY)]
    ordered_since = set(occ[occ.date >= YESTERDAY].customer_id)
    earlier = set(occ[occ.date < YESTERDAY].customer_id)
    left = set(checkouts.customer_id.dropna()) - ordered_since
    assert len(left & earlier) >= 3


def test_some_parcels_promised_for_yesterday_have_not_arrived(shop):
    o = shop.orders
    due = pd.to_datetime(o.promised_delivery_date).dt.date == YESTERDAY
    missing = due & o.delivered_at.isna() & o.shipped_at.notna() & o.customer_id.notna()
    assert missing.sum() >= 2


def test_chunked_shop_has_unique_ids_and_resolving_references(tmp_path):
    rows = _generate(tmp_path / "chunked", 2500, seed=9, chunk_customers=1000)
    shop = Shop(tmp_path / "chunked")
    assert rows["customers"] == len(shop.customers) == 2500
    for frame, key in ((shop.customers, "customer_id"), (shop.orders, "order_id"),
                       (shop.events, "event_id"), (shop.items, "line_id")):
        assert frame[key].is_unique, key
    assert shop.customers.email.dropna().is_unique  # derived from the id: no chunk repeats one
    assert list(shop.customers.customer_id) == [f"C{k:06d}" for k in range(1, 2501)]
    ids = shop.orders.order_id.str[1:].astype(int)
    assert sorted(ids) == list(range(1, len(ids) + 1))  # order ids continue across chunks
    assert set(shop.items.order_id) == set(shop.orders.order_id)
    assert set(shop.orders.customer_id.dropna()) <= set(shop.customers.customer_id)
    assert set(shop.events.customer_id.dropna()) <= set(shop.customers.customer_id)
    # Each chunk is a shop of its own: every chunk has its buyers and browsers.
    chunk = (shop.orders.customer_id.dropna().str[1:].astype(int) - 1) // 1000
    assert set(chunk) == {0, 1, 2}
    # A shop of one chunk is the shop written in one piece.
    _generate(tmp_path / "one", 800, seed=9)
    _generate(tmp_path / "one_big_chunk", 800, seed=9, chunk_customers=5000)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "one_big_chunk")


def test_orders_per_customer_reaches_its_mean(tmp_path):
    rows = _generate(tmp_path, 3000, seed=4, fmt="parquet", orders_per_customer=8)
    assert 7.2 < rows["orders"] / rows["customers"] < 8.8
    orders = pq.read_table(tmp_path / "orders.parquet").to_pandas()
    assert rows["orders"] == len(orders)
    events = pq.read_table(tmp_path / "events.parquet", columns=["event_type"]).to_pandas()
    assert (events.event_type == "checkout_started").sum() >= 0.9 * len(orders)


def test_last_days_as_drops_and_the_rest_as_history(tmp_path):
    whole, daily = tmp_path / "whole", tmp_path / "daily"
    _generate(whole, 1200, seed=6, history_days=90, chunk_customers=500)
    rows = _generate(daily, 1200, seed=6, history_days=90, days=3, chunk_customers=500)
    history = (END - dt.timedelta(days=3)).isoformat()
    drops = [(END - dt.timedelta(days=k)).isoformat() for k in (2, 1, 0)]
    for entity in ("orders", "order_items", "events"):
        assert sorted(p.name for p in (daily / entity).iterdir()) == [
            f"{history}-history.csv", *(f"{d}.csv" for d in drops)], entity
    con = duckdb.connect()
    for entity, column in (("orders", "updated_at"), ("events", "occurred_at")):
        by_file = con.execute(f"""select parse_filename(filename, true),
                min(strftime({column} at time zone 'UTC', '%Y-%m-%d')),
                max(strftime({column} at time zone 'UTC', '%Y-%m-%d'))
            from read_csv('{daily / entity}/*.csv', filename = true,
                          types = {{'{column}': 'TIMESTAMPTZ'}}) group by all order by 1""").fetchall()
        assert by_file[0][0] == f"{history}-history" and by_file[0][2] <= history, entity
        assert [(name, low, high) for name, low, high in by_file[1:]] == [
            (d, d, d) for d in drops], entity
    # The latest version of each order is the single-file row; re-sent ones have an older version.
    latest = con.execute(f"""select order_id, status, updated_at, refunded_amount from (
            select *, row_number() over (partition by order_id order by updated_at desc) rn
            from read_csv('{daily}/orders/*.csv', all_varchar = true)) where rn = 1
        order by order_id""").fetchall()
    single = con.execute(f"""select order_id, status, updated_at, refunded_amount
        from read_csv('{whole}/orders.csv', all_varchar = true) order by order_id""").fetchall()
    assert latest == single
    in_history = con.execute(f"""select count(*), count(distinct order_id)
        from read_csv('{daily}/orders/{history}-history.csv', all_varchar = true)""").fetchall()
    assert in_history[0][0] == in_history[0][1]  # one version per order in the history file
    resent = con.execute(f"select count(*) - count(distinct order_id) from "
                         f"read_csv('{daily}/orders/*.csv', all_varchar = true)").fetchall()[0][0]
    assert resent > 0 and rows["orders"] == len(single) + resent
    for entity in ("order_items", "events", "customers"):
        pattern = f"{daily}/{entity}/*.csv" if entity != "customers" else f"{daily}/customers.csv"
        ext = f"{whole}/{entity}.csv"
        assert con.execute(f"select count(*) from read_csv('{pattern}', all_varchar = true)"
                           ).fetchall() == con.execute(
            f"select count(*) from read_csv('{ext}', all_varchar = true)").fetchall(), entity


def test_cli_generates_drops_at_the_asked_mean(tmp_path):
    from click.testing import CliRunner

    from retention_pipeline.cli import main

    out = tmp_path / "shop"
    result = CliRunner().invoke(main, [
        "generate", "--customers", "1500", "--out", str(out), "--format", "parquet",
        "--end", END.isoformat(), "--history-days", "120", "--days", "2",
        "--orders-per-customer", "4", "--chunk-customers", "700"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "orders").iterdir()) == [
        f"{END - dt.timedelta(days=2)}-history.parquet", f"{YESTERDAY}.parquet", f"{END}.parquet"]
    con = duckdb.connect()
    orders, customers = con.execute(f"""select count(distinct order_id),
            (select count(*) from '{out}/customers.parquet')
        from '{out}/orders/*.parquet'""").fetchall()[0]
    assert customers == 1500 and 3.4 < orders / customers < 4.6
    assert "customers           1,500 rows" in result.output
