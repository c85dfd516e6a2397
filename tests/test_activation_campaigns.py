"""Each campaign rule of docs/metrics.md#campaigns on a few hand-made customers: who is proposed,
who is not, and
the context the message needs. The contact policy runs too (all candidates are read, whatever
their state), with no control group so nothing is held out by chance. Each day is a real dbt build
of the activation models on the hand-made warehouse."""

import datetime as dt
import json

import pytest

from tests.support.activation_fixtures import Shop, bucket

AS_OF = dt.date(2026, 3, 10)


def days_ago(n: int, as_of: dt.date = AS_OF) -> dt.date:
    return as_of - dt.timedelta(days=n)


@pytest.fixture
def shop(tmp_path):
    shop = Shop(tmp_path)
    yield shop
    shop.close()


def proposed(shop: Shop, campaign: str, as_of: dt.date = AS_OF, **settings) -> dict[str, dict]:
    """Candidates of one campaign by customer (after shop.derive())."""
    shop.derive()
    shop.build(as_of, select="campaign_candidates", **settings)
    rows = shop.candidates(campaign=campaign)
    return {r["customer_id"]: {**r, "context": json.loads(r["context"])} for r in rows}


def test_first_purchase_thanks_names_the_first_order_of_yesterday(shop):
    for c in ("new", "older", "cancelled_first", "only_cancelled"):
        shop.customer(c)
    shop.order("new", days_ago(1), hour=15, order_id="late")
    shop.order("new", days_ago(1), hour=9, order_id="early")
    shop.order("older", days_ago(2))
    shop.order("cancelled_first", days_ago(5), valid=False)
    shop.order("cancelled_first", days_ago(1), order_id="first_valid")
    shop.order("only_cancelled", days_ago(1), valid=False)

    got = proposed(shop, "first_purchase_thanks")

    assert set(got) == {"new", "cancelled_first"}
    assert got["new"]["context"]["order_id"] == "early"
    assert got["new"]["context"]["order_date"] == "2026-03-09"
    assert got["cancelled_first"]["context"]["order_id"] == "first_valid"
    assert got["new"]["category"] == "service"


def test_second_purchase_nudge_window_is_30_to_37_days_after_the_only_occasion(shop):
    for n in (29, 30, 37, 38):
        shop.customer(f"d{n}")
        shop.order(f"d{n}", days_ago(n), items=[("mug", 12.0), ("beans", 30.0)])
    shop.product("mug", "kitchen")
    shop.product("beans", "coffee")
    shop.customer("two_occasions")
    shop.order("two_occasions", days_ago(33))
    shop.order("two_occasions", days_ago(3))

    got = proposed(shop, "second_purchase_nudge")

    assert set(got) == {"d30", "d37"}
    assert got["d30"]["context"] == {
        "first_order_date": "2026-02-08", "days_since_first_order": 30, "category": "coffee",
    }
    assert got["d30"]["dedupe_key"] == "second_purchase_nudge"


def test_second_purchase_nudge_window_is_a_setting(shop):
    shop.customer("c")
    shop.order("c", days_ago(20))
    assert set(proposed(shop, "second_purchase_nudge", nudge_min_days=14, nudge_max_days=21)) == {"c"}


def test_replenishment_fires_from_3_days_before_to_7_days_after_the_due_date(shop):
    shop.cycles(coffee=30)
    shop.product("beans", "coffee", name="House beans")
    shop.product("filter", "coffee")
    shop.product("tea", "tea")
    for n in (26, 27, 37, 38):  # due in 4, 3 days; due 7, 8 days ago
        shop.customer(f"d{n}")
        shop.order(f"d{n}", days_ago(n), items=[("filter", 5.0), ("beans", 20.0)])
    shop.customer("bought_again")  # due long ago, but bought coffee again since
    shop.order("bought_again", days_ago(60), items=[("beans", 20.0)])
    shop.order("bought_again", days_ago(10), items=[("beans", 20.0)])
    shop.customer("no_cycle")
    shop.order("no_cycle", days_ago(30), items=[("tea", 9.0)])

    got = proposed(shop, "replenishment")

    assert set(got) == {"d27", "d37"}
    assert got["d27"]["context"] == {
        "category": "coffee", "last_purchase_date": "2026-02-11", "cycle_days": 30,
        "due_date": "2026-03-13", "product_id": "beans", "product_name": "House beans",
    }
    # once per purchase: the key is the category and the date of the purchase that is due
    assert got["d37"]["dedupe_key"] == "replenishment:coffee:2026-02-01"


def test_replenishment_proposes_one_purchase_per_customer_and_day_the_one_due_first(shop):
    shop.cycles(coffee=30, tea=20)
    shop.product("beans", "coffee")
    shop.product("leaves", "tea")
    shop.customer("both")  # coffee due in 2 days, tea due 1 day ago: tea first
    shop.order("both", days_ago(28), items=[("beans", 20.0)])
    shop.order("both", days_ago(21), items=[("leaves", 9.0)])
    shop.derive()
    shop.build(AS_OF)
    [first] = shop.candidates(campaign="replenishment")
    assert first["dedupe_key"] == "replenishment:tea:2026-02-17"

    # the tea purchase was reminded: the next day brings the coffee one (not tea again)
    shop.build(days_ago(-1), select="campaign_candidates")
    [second] = shop.candidates(campaign="replenishment")
    assert second["dedupe_key"] == "replenishment:coffee:2026-02-10"


def test_replenishment_needs_known_cycles(shop):
    shop.customer("c")
    shop.product("beans", "coffee")
    shop.order("c", days_ago(30), items=[("beans", 20.0)])
    shop.derive()
    shop.build(AS_OF, select="campaign_candidates")  # replenishment_cycles has no coffee row
    assert shop.candidates(campaign="replenishment") == []


@pytest.mark.parametrize(
    ("as_of", "fires"),
    [
        (dt.date(2027, 2, 28), True),   # no 29 February in 2027: greeted on the 28th
        (dt.date(2027, 3, 1), False),
        (dt.date(2028, 2, 28), False),  # leap year: wait for the 29th
        (dt.date(2028, 2, 29), True),
    ],
)
def test_birthday_on_29_february(shop, as_of, fires):
    shop.customer("leapling", birthday=dt.date(2000, 2, 29))
    shop.customer("march", birthday=dt.date(1990, 3, 1))
    got = proposed(shop, "birthday", as_of=as_of)
    assert ("leapling" in got) == fires
    assert ("march" in got) == (as_of == dt.date(2027, 3, 1))
    if fires:
        assert got["leapling"]["dedupe_key"] == f"birthday:{as_of.year}"
        assert got["leapling"]["context"] == {"birthday": "02-29"}


def test_vip_early_access_for_top_tiers_and_best_segments(shop):
    for c in ("gold", "champion", "silver", "promising"):
        shop.customer(c)
        shop.order(c, days_ago(10))
    shop.segment("gold", rfm="Hibernating", tier="Gold")
    shop.segment("champion", rfm="Champions", tier="Bronze")
    shop.segment("silver", rfm="Promising", tier="Silver")
    shop.segment("promising", rfm="Promising", tier=None)
    shop.product("today", "coffee", launched_at=dt.datetime(2026, 3, 10, 9))
    shop.product("in3", "coffee", launched_at=dt.datetime(2026, 3, 13, 9), name="Geisha")
    shop.product("in4", "coffee", launched_at=dt.datetime(2026, 3, 14, 9))

    shop.derive()
    shop.build(AS_OF, select="campaign_candidates")
    rows = shop.candidates(campaign="vip_early_access")

    assert {(r["customer_id"], r["dedupe_key"]) for r in rows} == {
        ("gold", "vip_early_access:in3"), ("champion", "vip_early_access:in3"),
    }
    assert json.loads(rows[0]["context"]) == {"products": [{
        "product_id": "in3", "product_name": "Geisha", "category": "coffee",
        "launch_date": "2026-03-13",
    }]}


def test_launch_dates_are_local_to_the_reporting_time_zone(tmp_path):
    shop = Shop(tmp_path, reporting_tz="Asia/Tokyo")
    shop.customer("gold")
    shop.segment("gold", tier="Gold")
    # 23:30 UTC on 13 March is 08:30 on 14 March in Tokyo: 4 days after the as-of date, too late
    shop.product("late", "coffee", launched_at=dt.datetime(2026, 3, 13, 23, 30))
    # 14:00 UTC on 13 March is still 13 March in Tokyo: within 3 days
    shop.product("ok", "coffee", launched_at=dt.datetime(2026, 3, 13, 14, 0))
    got = proposed(shop, "vip_early_access")
    assert got["gold"]["dedupe_key"] == "vip_early_access:ok"
    shop.close()


def test_new_arrival_for_recent_buyers_of_the_category_who_do_not_own_it(shop):
    shop.product("old_beans", "coffee")
    shop.product("new_beans", "coffee", launched_at=dt.datetime(2026, 3, 7, 10), name="Nouveau")
    shop.product("today_beans", "coffee", launched_at=dt.datetime(2026, 3, 10, 8))
    shop.product("week_old", "coffee", launched_at=dt.datetime(2026, 3, 2, 10))
    shop.product("tea", "tea")
    for c in ("recent", "stale", "owner", "tea_only"):
        shop.customer(c)
    shop.order("recent", days_ago(100), items=[("old_beans", 10.0)])
    shop.order("stale", days_ago(400), items=[("old_beans", 10.0)])
    shop.order("owner", days_ago(200), items=[("old_beans", 10.0)])
    shop.order("owner", days_ago(2), items=[("new_beans", 10.0)])
    shop.order("tea_only", days_ago(5), items=[("tea", 10.0)])

    shop.derive()
    shop.build(AS_OF, select="campaign_candidates")
    rows = shop.candidates(campaign="new_arrival")

    # launched 3 days ago: yes; today or 8 days ago: no (the 7 days before the as-of date)
    assert {(r["customer_id"], r["dedupe_key"]) for r in rows} == {("recent", "new_arrival:new_beans")}
    assert json.loads(rows[0]["context"])["products"][0]["product_name"] == "Nouveau"


def product_ids(candidate: dict) -> list[str]:
    return [p["product_id"] for p in json.loads(candidate["context"])["products"]]


def several_launches(shop: Shop, vip: bool = True) -> None:
    """Five coffee launches last week and five in the next days, a tea launch of each; one coffee
    buyer, one tea buyer (both VIPs unless `vip` is false)."""
    for n in range(1, 6):
        shop.product(f"new{n}", "coffee", launched_at=dt.datetime(2026, 3, 10 - n, 9))
        shop.product(f"soon{n}", "coffee", launched_at=dt.datetime(2026, 3, 11 + n % 3, 9))
    shop.product("new_tea", "tea", launched_at=dt.datetime(2026, 3, 8, 9))
    shop.product("soon_tea", "tea", launched_at=dt.datetime(2026, 3, 13, 9))
    shop.product("beans", "coffee")
    shop.product("leaves", "tea")
    for c, item in (("coffee_fan", "beans"), ("tea_fan", "leaves")):
        shop.customer(c)
        shop.order(c, days_ago(20), items=[(item, 10.0)])
        if vip:
            shop.segment(c, rfm="Champions", tier="Gold")


def test_product_campaigns_propose_one_candidate_per_customer_with_the_newest_products(shop):
    several_launches(shop)
    shop.derive()
    shop.build(AS_OF, select="campaign_candidates")

    per_key = shop.con.execute("""
        select customer_id, campaign, as_of_date, count(*) from marts.campaign_candidates
        group by all having count(*) > 1
    """).fetchall()
    assert per_key == []
    new = {r["customer_id"]: r for r in shop.candidates(campaign="new_arrival")}
    # newest launch first, at most 3, only the customer's categories
    assert product_ids(new["coffee_fan"]) == ["new1", "new2", "new3"]
    assert new["coffee_fan"]["dedupe_key"] == "new_arrival:new1,new2,new3"
    assert product_ids(new["tea_fan"]) == ["new_tea"]
    vip = {r["customer_id"]: r for r in shop.candidates(campaign="vip_early_access")}
    # the customer's own categories first, then the soonest launch, then the product id
    assert product_ids(vip["tea_fan"]) == ["soon_tea", "soon3", "soon1"]
    assert product_ids(vip["coffee_fan"]) == ["soon3", "soon1", "soon4"]


def test_a_product_is_announced_once_and_the_next_day_brings_only_the_others(shop):
    several_launches(shop, vip=False)  # new_arrival only: no daily cap between two campaigns
    shop.derive()
    shop.build(AS_OF)
    assert shop.one(campaign="new_arrival", customer_id="coffee_fan")["state"] == "queued"
    next_day = AS_OF + dt.timedelta(days=1)
    shop.build(next_day, select="campaign_candidates")

    new = {r["customer_id"]: r for r in shop.candidates(campaign="new_arrival")}
    # new1..new3 were announced yesterday: only the two other launches of the week are left
    assert product_ids(new["coffee_fan"]) == ["new4", "new5"]
    assert new["coffee_fan"]["dedupe_key"] == "new_arrival:new4,new5"
    # tea had a single launch, already announced: no candidate at all
    assert "tea_fan" not in new


def test_after_sales_followup_for_yesterdays_complaints_returns_and_open_tickets(shop):
    for c in ("complainer", "returner", "resolved", "open_ticket", "two_days_ago", "twice"):
        shop.customer(c)
    yesterday = dt.datetime(2026, 3, 9, 14)
    shop.event("complainer", "complaint", yesterday)
    shop.event("returner", "return_requested", yesterday, event_id="r1", order_id="o9",
               product_id="p9")
    shop.event("resolved", "support_ticket", yesterday, resolved=True, first_response_minutes=5)
    shop.event("open_ticket", "support_ticket", yesterday, resolved=False)
    shop.event("two_days_ago", "complaint", dt.datetime(2026, 3, 8, 14))
    shop.event("twice", "complaint", dt.datetime(2026, 3, 9, 18), event_id="later")
    shop.event("twice", "return_requested", dt.datetime(2026, 3, 9, 8), event_id="earlier",
               order_id="o7")

    got = proposed(shop, "after_sales_followup")

    assert set(got) == {"complainer", "returner", "open_ticket", "twice"}
    assert got["returner"]["context"]["order_id"] == "o9"
    assert got["returner"]["context"]["product_id"] == "p9"
    assert got["returner"]["dedupe_key"] == "after_sales_followup:r1"
    # one message per customer and day, about the first issue, listing all of them
    assert got["twice"]["dedupe_key"] == "after_sales_followup:earlier"
    assert got["twice"]["context"]["event_ids"] == ["earlier", "later"]
    assert got["twice"]["context"]["issues"] == 2
    assert got["twice"]["category"] == "service"


def test_win_back_after_max_of_60_days_and_twice_the_usual_gap(shop):
    for c in ("d59", "d60", "cycle79", "cycle80", "big"):
        shop.customer(c)
    shop.order("d59", days_ago(59))
    shop.order("d60", days_ago(60))
    # two occasions 40 days apart: lapsed at 2 x 40 = 80 days, not at 60
    shop.order("cycle79", days_ago(119))
    shop.order("cycle79", days_ago(79))
    shop.order("cycle80", days_ago(120))
    shop.order("cycle80", days_ago(80))
    shop.order("big", days_ago(70), amount=1500.0)

    shop.derive()
    shop.build(AS_OF, select="campaign_candidates")
    rows = {r["customer_id"]: r for r in shop.candidates() if r["dedupe_key"] == "win_back"}

    assert set(rows) == {"d60", "cycle80", "big"}
    assert rows["big"]["campaign"] == "win_back_high_value"
    assert rows["d60"]["campaign"] == "win_back"
    assert json.loads(rows["cycle80"]["context"]) == {
        "last_order_date": "2025-12-20", "days_since_last_order": 80, "lapse_threshold_days": 80,
    }


def test_surprise_reward_draw_is_the_md5_of_customer_and_date(shop):
    customers = [f"c{i:03d}" for i in range(300)]
    for c in customers:
        shop.customer(c)
        shop.order(c, days_ago(20))
        shop.segment(c, rfm="Champions")
    shop.customer("lost")
    shop.order("lost", days_ago(20))
    shop.segment("lost", rfm="Lost")
    shop.customer("not_recent")
    shop.order("not_recent", days_ago(90))
    shop.segment("not_recent", rfm="Loyal Customers")

    got = set(proposed(shop, "surprise_reward"))

    expected = {c for c in customers + ["not_recent"]
                if bucket(f"surprise_reward|{c}|2026-03-10") < 0.05}
    expected.discard("not_recent")  # last occasion 90 days ago: not in the last 90 days
    assert got == expected
    assert 5 <= len(got) <= 30  # about 5 % of 300
    next_day = set(proposed(shop, "surprise_reward", as_of=days_ago(-1)))
    assert next_day != got  # a new draw every day


def test_abandoned_checkout_for_existing_customers_who_did_not_order_since(shop):
    yesterday = dt.datetime(2026, 3, 9)
    for c in ("abandoned", "prospect", "ordered_after", "ordered_between", "two_days_ago",
              "first_order_after_cart", "cancelled_after"):
        shop.customer(c)
    shop.order("abandoned", days_ago(40))
    shop.event("abandoned", "add_to_cart", yesterday.replace(hour=10), product_id="p2")
    shop.event("abandoned", "add_to_cart", yesterday.replace(hour=10, minute=5), product_id="p1")
    shop.event("abandoned", "checkout_started", yesterday.replace(hour=10, minute=9))
    # never bought: not a retention message
    shop.event("prospect", "checkout_started", yesterday.replace(hour=11))
    # checked out after the cart (valid or cancelled, the checkout happened)
    shop.order("ordered_after", days_ago(40))
    shop.event("ordered_after", "add_to_cart", yesterday.replace(hour=9), product_id="p1")
    shop.order("ordered_after", days_ago(1), hour=9, order_id="after")
    shop.order("cancelled_after", days_ago(40))
    shop.event("cancelled_after", "add_to_cart", yesterday.replace(hour=9), product_id="p1")
    shop.order("cancelled_after", days_ago(0), hour=8, valid=False)
    # ordered at 12:00, then came back at 15:00 and left a cart: abandoned since the order
    shop.order("ordered_between", days_ago(40))
    shop.event("ordered_between", "checkout_started", yesterday.replace(hour=11, minute=59))
    shop.order("ordered_between", days_ago(1), hour=12)
    shop.event("ordered_between", "add_to_cart", yesterday.replace(hour=15), product_id="p3")
    shop.order("two_days_ago", days_ago(40))
    shop.event("two_days_ago", "add_to_cart", dt.datetime(2026, 3, 8, 20), product_id="p1")
    # the only order came after the cart: no earlier occasion
    shop.event("first_order_after_cart", "add_to_cart", yesterday.replace(hour=9), product_id="p1")
    shop.order("first_order_after_cart", days_ago(1), hour=11)
    shop.event("first_order_after_cart", "add_to_cart", yesterday.replace(hour=8), product_id="p0")

    got = proposed(shop, "abandoned_checkout")

    assert set(got) == {"abandoned", "ordered_between"}
    assert got["abandoned"]["context"] == {
        "event_date": "2026-03-09", "last_event_type": "checkout_started", "started_checkout": True,
        "product_ids": ["p1", "p2"], "last_order_date": "2026-01-29",
    }
    assert got["abandoned"]["dedupe_key"] == "abandoned_checkout"
    assert got["abandoned"]["category"] == "marketing"
    assert got["ordered_between"]["context"]["product_ids"] == ["p3"]
    assert got["ordered_between"]["context"]["last_order_date"] == "2026-03-09"


def test_abandoned_checkout_at_most_once_per_14_days(shop):
    shop.customer("c")
    shop.order("c", days_ago(60))
    for day in (9, 22, 23):  # reminded on the 10th: not on the 23rd (13 days), again the 24th
        shop.event("c", "add_to_cart", dt.datetime(2026, 3, day, 10), product_id="p1")
    shop.derive()
    for day, expected in ((10, "queued"), (23, "suppressed"), (24, "queued")):
        shop.build(dt.date(2026, 3, day))  # candidates, then the day's contacts into the log
        row = shop.one(campaign="abandoned_checkout", customer_id="c")
        assert row["state"] == expected, day
    shop.build(dt.date(2026, 3, 23), select="campaign_candidates")
    assert shop.one(campaign="abandoned_checkout")["reason"] == "cooldown"


def test_delivery_apology_for_late_slow_and_lost_deliveries_seen_the_day_after(shop):
    import numpy as np

    def at(day: int, month: int = 3, hour: int = 14) -> dt.datetime:
        return dt.datetime(2026, month, day, hour)

    def delivered(customer: str, ordered: dt.date, delivered_at: dt.datetime | None,
                  promised: dt.date | None = None, shipped_at: dt.datetime | None = None,
                  status: str = "completed", hour: int = 12, order_id: str | None = None) -> str:
        if customer not in customers:
            customers.add(shop.customer(customer))
        order_id = shop.order(customer, ordered, hour=hour, order_id=order_id)
        shop.delivery(order_id, shipped_at or dt.datetime.combine(ordered, dt.time(18)),
                      delivered_at, promised, status)
        return order_id

    customers: set[str] = set()
    for n in range(1, 11):  # the shop's other deliveries: 1 .. 10 days, on time, long ago
        delivered(f"filler{n}", dt.date(2026, 1, 1), at(1 + n, 1), promised=dt.date(2026, 1, 20))
    delivered("late3", dt.date(2026, 3, 1), at(9), promised=dt.date(2026, 3, 6), order_id="L3")
    delivered("late2", dt.date(2026, 3, 1), at(9), promised=dt.date(2026, 3, 7))
    delivered("late_day_before", dt.date(2026, 2, 25), at(8), promised=dt.date(2026, 3, 1))
    delivered("slow", dt.date(2026, 2, 25), at(9), order_id="S1")  # 12 days, no promise
    delivered("quick", dt.date(2026, 3, 4), at(9))  # 5 days, no promise
    delivered("lost", dt.date(2026, 2, 26), None, promised=dt.date(2026, 3, 2),
              shipped_at=at(27, 2), order_id="X1")  # 10 days after shipping on the 9th
    delivered("lost_before", dt.date(2026, 2, 25), None, shipped_at=at(26, 2))
    delivered("not_yet_lost", dt.date(2026, 2, 27), None, shipped_at=at(28, 2))
    delivered("never_shipped", dt.date(2026, 2, 20), None, shipped_at=None)
    shop.con.execute("update marts.fct_orders set shipped_at = null where customer_id = 'never_shipped'")
    delivered("test_order", dt.date(2026, 3, 1), at(9), promised=dt.date(2026, 3, 5), status="test")
    delivered("twice", dt.date(2026, 3, 2), at(9), promised=dt.date(2026, 3, 4), hour=15,
              order_id="T2")
    delivered("twice", dt.date(2026, 3, 2), at(9), promised=dt.date(2026, 3, 4), hour=9,
              order_id="T1")

    got = proposed(shop, "delivery_apology")

    # the no-promise limit: the 0.9 quantile (linear) of every delivered order's delivery days
    days = [r[0] for r in shop.con.execute(
        "select delivery_days from marts.fct_orders where delivery_days is not null").fetchall()]
    limit = float(np.quantile(days, 0.9))
    assert 5 < limit < 12
    assert set(got) == {"late3", "slow", "lost", "twice"}
    assert got["late3"]["context"] == {
        "order_id": "L3", "order_date": "2026-03-01", "failure": "late",
        "promised_delivery_date": "2026-03-06", "delivered_date": "2026-03-09",
        "shipped_date": "2026-03-01", "days_late": 3, "orders": 1, "order_ids": ["L3"],
    }
    assert got["slow"]["context"]["failure"] == "slow"
    assert got["lost"]["context"]["failure"] == "lost"
    assert got["lost"]["dedupe_key"] == "delivery_apology:X1"
    # one message per customer and day, about the first order, listing both
    assert got["twice"]["dedupe_key"] == "delivery_apology:T1"
    assert got["twice"]["context"]["order_ids"] == ["T1", "T2"]
    assert got["late3"]["category"] == "service"
