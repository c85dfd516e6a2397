"""campaign_lift against a hand-worked example, and segment_members."""

import datetime as dt
import math

import pytest

from tests.support.activation_fixtures import Shop

AS_OF = dt.date(2026, 2, 20)
D = dt.date.fromisoformat


Z_95 = 1.959963984540054


def difference_interval(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float, float]:
    """(p1 - p0, low, high): the Wald 95 % interval, computed here independently of the SQL."""
    p1, p0 = x1 / n1, x0 / n0
    margin = Z_95 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return p1 - p0, p1 - p0 - margin, p1 - p0 + margin


def contact(shop: Shop, day: str, customer: str, state: str, campaign: str = "win_back",
            key: str = "win_back") -> None:
    shop.log(D(day), customer, campaign, state=state, dedupe_key=key)


def segment_counts(shop: Shop, **settings) -> dict[str, int]:
    shop.build(AS_OF, select="segment_members", **settings)
    return dict(shop.con.execute(
        "select segment, count(*) from marts.segment_members group by 1 order by 1").fetchall())


@pytest.fixture
def shop(tmp_path):
    shop = Shop(tmp_path)
    yield shop
    shop.close()


def test_campaign_lift_reproduces_the_hand_worked_example(shop):
    # Week of Monday 5 January 2026, attribution window 30 days after the trigger date.
    # Treated: 10 customers. Repurchased within (trigger, trigger + 30]: t0, t1, t4, t8 -> 4 / 10.
    for i in range(8):
        contact(shop, "2026-01-06", f"t{i}", "queued")
    contact(shop, "2026-01-09", "t8", "queued")
    contact(shop, "2026-01-09", "t9", "queued")
    contact(shop, "2026-01-08", "t5", "queued", key="other")  # twice in the week: counts once
    purchases = {
        "t0": "2026-01-10",  # 4 days after: yes
        "t1": "2026-02-05",  # exactly 30 days after: yes
        "t2": "2026-02-06",  # 31 days after: no
        "t3": "2026-01-06",  # the trigger day itself: no (not after the message)
        "t4": "2026-01-20",  # yes
        "t5": "2026-02-06",  # 31 days after the week's first trigger (6 Jan): no
        "t8": "2026-02-08",  # 30 days after 9 January: yes
    }
    # Control: 5 customers, h0 repurchased -> 1 / 5.
    for i in range(5):
        contact(shop, "2026-01-07", f"h{i}", "holdout")
    purchases |= {"h0": "2026-01-15", "h1": "2025-12-01"}
    # A later week, not mature yet on 20 February (2 Feb + 6 + 30 = 10 March), no control.
    contact(shop, "2026-02-03", "t6", "queued")
    contact(shop, "2026-02-04", "t7", "queued")
    contact(shop, "2026-02-21", "t9", "queued")  # after the as-of date: ignored
    for customer, day in purchases.items():
        shop.customer(customer)
        shop.order(customer, D(day))
    shop.derive()

    shop.build(AS_OF, select="campaign_lift")  # from the contact log as it is
    rows = shop.rows("marts.campaign_lift")
    assert len(rows) == 2
    week1, week2 = rows

    assert week1["trigger_week"] == D("2026-01-05")
    assert (week1["treated_customers"], week1["treated_repurchasers"]) == (10, 4)
    assert (week1["control_customers"], week1["control_repurchasers"]) == (5, 1)
    assert week1["treated_rate"] == pytest.approx(0.4)
    assert week1["control_rate"] == pytest.approx(0.2)
    assert week1["absolute_lift"] == pytest.approx(0.2)
    assert week1["relative_lift"] == pytest.approx(1.0)
    # by hand: se = sqrt(0.4 * 0.6 / 10 + 0.2 * 0.8 / 5) = sqrt(0.056) = 0.236643;
    # 1.959964 * se = 0.463812, so 0.2 -/+ 0.463812
    assert week1["lift_ci_low"] == pytest.approx(-0.263812, abs=1e-6)
    assert week1["lift_ci_high"] == pytest.approx(0.663812, abs=1e-6)
    assert (week1["lift_ci_low"], week1["lift_ci_high"]) == pytest.approx(
        difference_interval(4, 10, 1, 5)[1:]
    )
    assert week1["is_mature"] is True
    assert week1["attribution_days"] == 30

    assert week2["trigger_week"] == D("2026-02-02")
    assert (week2["treated_customers"], week2["control_customers"]) == (2, 0)
    assert week2["control_rate"] is None and week2["absolute_lift"] is None
    assert week2["lift_ci_low"] is None and week2["relative_lift"] is None
    assert week2["is_mature"] is False


def test_attribution_window_is_a_setting(shop):
    contact(shop, "2026-01-06", "a", "queued")
    contact(shop, "2026-01-06", "b", "holdout")
    shop.customer("a")
    shop.order("a", D("2026-01-20"))  # 14 days after
    shop.customer("b")
    shop.derive()
    shop.build(AS_OF, select="campaign_lift", lift_attribution_days=7)
    row = shop.rows("marts.campaign_lift")[0]
    assert row["treated_repurchasers"] == 0
    assert row["relative_lift"] is None  # control rate 0


def test_segment_members_from_rfm_tiers_and_predictions(shop):
    for c, rfm, tier in [("a", "Champions", "Gold"), ("b", "Can't Lose Them", "Bronze"),
                         ("c", None, None)]:
        shop.customer(c)
        shop.segment(c, rfm=rfm, tier=tier)
    shop.derive()

    without = segment_counts(shop)
    assert without == {"rfm_cant_lose_them": 1, "rfm_champions": 1, "tier_bronze": 1, "tier_gold": 1}

    shop.predictions(a="high", b="medium", c="high")
    with_predictions = segment_counts(shop)
    assert with_predictions["predicted_churners"] == 2
    members = shop.rows("marts.segment_members", segment="predicted_churners")
    assert [m["customer_id"] for m in members] == ["a", "c"]
    assert members[0]["as_of_date"] == AS_OF
    assert segment_counts(shop, churner_risk_bands=["high", "medium"])["predicted_churners"] == 3
