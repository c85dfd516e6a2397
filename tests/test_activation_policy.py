"""The contact policy on hand-made customers: consent (and later unsubscribes), addresses, caps,
the one-marketing-message-a-day rule, service exemptions, quiet hours, cooldowns, control groups.
Every candidate must end in exactly one state with a reason. Each decision is a real dbt build of
campaign_candidates (and its blocking checks) on the hand-made warehouse."""

import datetime as dt

import pytest

from retention_pipeline.activation.build import ActivationBuildError, BuildResult
from tests.support.activation_fixtures import Shop, is_holdout

AS_OF = dt.date(2026, 3, 10)
BIRTHDAY = dt.date(1990, 3, 10)  # birthday on the as-of date: a marketing candidate


@pytest.fixture
def shop(tmp_path):
    shop = Shop(tmp_path)
    yield shop
    shop.close()


SUPPRESSION_REASONS = {
    "unknown_customer", "already_sent", "cooldown", "no_consent", "no_address", "frequency_cap",
    "daily_volume", "daily_marketing_limit",
}


def decide(shop: Shop, as_of: dt.date = AS_OF, **settings) -> BuildResult:
    """campaign_candidates and its checks for the day; the checks must pass."""
    shop.derive()
    result = shop.build(as_of, select="campaign_candidates", **settings)
    assert not result.failed_checks, result.failed_checks
    return result


def failed_checks(shop: Shop, **settings) -> dict:
    """The blocking checks re-run on the candidates as they are now."""
    result = shop.build(AS_OF, command="test", select="campaign_candidates", **settings)
    return {n.name: n for n in result.failed_checks}


def log(shop: Shop, day: dt.date, customer_id: str, campaign: str, channel: str = "email",
        state: str = "queued", dedupe_key: str | None = None, category: str = "marketing") -> None:
    shop.log(day, customer_id, campaign, channel, state, dedupe_key, category)


def state(shop: Shop, customer_id: str, campaign: str) -> tuple[str, str, str | None]:
    row = shop.one(customer_id=customer_id, campaign=campaign)
    return row["state"], row["reason"], row["channel"]


# --- consent and addresses ---------------------------------------------------------------------

def test_marketing_needs_consent_and_an_address(shop):
    shop.customer("ok", birthday=BIRTHDAY)
    shop.customer("no_consent", birthday=BIRTHDAY, accepts_email=False)
    shop.customer("no_address", birthday=BIRTHDAY, email=None)
    decide(shop)
    assert state(shop, "ok", "birthday") == ("queued", "eligible", "email")
    assert state(shop, "no_consent", "birthday") == ("suppressed", "no_consent", None)
    assert state(shop, "no_address", "birthday") == ("suppressed", "no_address", None)


def test_sms_consent_withdrawn_by_a_later_unsubscribe_event(shop):
    profile = {"birthday": BIRTHDAY, "accepts_email": False, "phone": "+8613800000000",
                   "accepts_sms": True, "updated_at": dt.datetime(2026, 1, 1)}
    shop.customer("unsubscribed", **profile)
    shop.event("unsubscribed", "unsubscribe", dt.datetime(2026, 2, 1), channel="sms")
    shop.customer("resubscribed", **profile)  # unsubscribed before the record that consents
    shop.event("resubscribed", "unsubscribe", dt.datetime(2025, 12, 1), channel="sms")
    shop.customer("email_only_unsub", **profile)  # an unsubscribe of another channel
    shop.event("email_only_unsub", "unsubscribe", dt.datetime(2026, 2, 1), channel="email")
    shop.customer("all_channels", **profile)  # an unsubscribe without a channel: all of them
    shop.event("all_channels", "unsubscribe", dt.datetime(2026, 2, 1))

    decide(shop)

    assert state(shop, "unsubscribed", "birthday") == ("suppressed", "no_consent", None)
    assert state(shop, "resubscribed", "birthday") == ("queued", "eligible", "sms")
    assert state(shop, "email_only_unsub", "birthday") == ("queued", "eligible", "sms")
    assert state(shop, "all_channels", "birthday") == ("suppressed", "no_consent", None)


def test_service_may_use_email_without_marketing_consent_but_not_sms(shop):
    shop.customer("no_marketing", accepts_email=False)
    shop.order("no_marketing", AS_OF - dt.timedelta(days=1))
    shop.customer("unsubscribed_all")
    shop.order("unsubscribed_all", AS_OF - dt.timedelta(days=1))
    shop.event("unsubscribed_all", "unsubscribe", dt.datetime(2026, 2, 1))
    shop.customer("phone_only", email=None, phone="+15550000", accepts_sms=False)
    shop.event("phone_only", "complaint", dt.datetime(2026, 3, 9, 10))
    shop.customer("phone_consent", email=None, phone="+15550001", accepts_sms=True)
    shop.event("phone_consent", "complaint", dt.datetime(2026, 3, 9, 10))
    decide(shop)
    assert state(shop, "no_marketing", "first_purchase_thanks") == ("queued", "eligible", "email")
    assert state(shop, "unsubscribed_all", "first_purchase_thanks") == ("queued", "eligible", "email")
    # email would be allowed without consent but there is no address; SMS needs its consent
    assert state(shop, "phone_only", "after_sales_followup") == ("suppressed", "no_address", None)
    assert state(shop, "phone_consent", "after_sales_followup") == ("queued", "eligible", "sms")


def test_first_channel_in_the_campaigns_order_that_passes_everything(shop):
    # birthday prefers email | push | wechat | sms in the daily_use preset
    shop.customer("push_user", birthday=BIRTHDAY, accepts_email=False, accepts_push=True,
                  push_token="tok", accepts_sms=True, phone="+1")
    shop.customer("wechat_user", birthday=BIRTHDAY, email=None, accepts_wechat=True,
                  wechat_openid="wx1")
    decide(shop)
    assert state(shop, "push_user", "birthday") == ("queued", "eligible", "push")
    assert shop.one(customer_id="push_user")["address"] == "tok"
    assert state(shop, "wechat_user", "birthday") == ("queued", "eligible", "wechat")


# --- caps, daily limit, cooldowns ---------------------------------------------------------------

def test_frequency_cap_moves_to_the_next_channel_then_suppresses(shop):
    shop.customer("has_push", birthday=BIRTHDAY, accepts_push=True, push_token="tok")
    shop.customer("email_only", birthday=BIRTHDAY)
    for c in ("has_push", "email_only"):  # email <= 3 per 7 days in daily_use: 3 already
        for n in (6, 4, 2):
            log(shop, AS_OF - dt.timedelta(days=n), c, "new_arrival")
    decide(shop)
    assert state(shop, "has_push", "birthday") == ("queued", "eligible", "push")
    assert state(shop, "email_only", "birthday") == ("suppressed", "frequency_cap", None)


def test_caps_count_only_the_window_and_only_queued_marketing(shop):
    shop.customer("c", birthday=BIRTHDAY)
    log(shop, AS_OF - dt.timedelta(days=7), "c", "new_arrival")  # outside the 7-day window
    log(shop, AS_OF - dt.timedelta(days=3), "c", "new_arrival")
    log(shop, AS_OF - dt.timedelta(days=2), "c", "win_back", state="holdout")  # never sent
    log(shop, AS_OF - dt.timedelta(days=1), "c", "first_purchase_thanks", category="service")
    log(shop, AS_OF - dt.timedelta(days=1), "c", "new_arrival")
    decide(shop)
    assert state(shop, "c", "birthday") == ("queued", "eligible", "email")  # 2 + today = 3


def test_preset_changes_the_caps(shop):
    shop.customer("c", birthday=BIRTHDAY)
    log(shop, AS_OF - dt.timedelta(days=3), "c", "new_arrival")
    decide(shop, contact_policy_preset="daily_use")
    assert state(shop, "c", "birthday")[0] == "queued"
    decide(shop, contact_policy_preset="yearly_durable")  # email <= 1 per 7 days
    assert state(shop, "c", "birthday") == ("suppressed", "frequency_cap", None)


def test_two_campaigns_compete_for_one_marketing_slot(shop):
    # birthday (priority 10) and win-back (priority 50) on the same day; the thank-you is service
    shop.customer("c", birthday=BIRTHDAY)
    shop.order("c", AS_OF - dt.timedelta(days=100))
    shop.customer("d", birthday=BIRTHDAY)
    shop.order("d", AS_OF - dt.timedelta(days=1))
    decide(shop)
    assert state(shop, "c", "birthday") == ("queued", "eligible", "email")
    assert state(shop, "c", "win_back") == ("suppressed", "daily_marketing_limit", None)
    assert state(shop, "d", "birthday")[0] == "queued"
    assert state(shop, "d", "first_purchase_thanks")[0] == "queued"  # service: not limited

    # the seed's priorities decide: make win-back the more important one
    shop.con.execute("update seeds.contact_policy_campaigns set priority = 5 "
                     "where preset = 'daily_use' and campaign = 'win_back'")
    decide(shop)
    assert state(shop, "c", "win_back")[0] == "queued"
    assert state(shop, "c", "birthday") == ("suppressed", "daily_marketing_limit", None)


def test_a_suppressed_winner_leaves_the_slot_to_the_next_campaign(shop):
    # the birthday cannot go (no channel of its list has consent), win-back can (wechat)
    shop.con.execute("update seeds.contact_policy_campaigns set channels = 'email' "
                     "where preset = 'daily_use' and campaign = 'birthday'")
    shop.customer("c", birthday=BIRTHDAY, accepts_email=False, accepts_wechat=True,
                  wechat_openid="wx")
    shop.order("c", AS_OF - dt.timedelta(days=100))
    decide(shop)
    assert state(shop, "c", "birthday") == ("suppressed", "no_consent", None)
    assert state(shop, "c", "win_back") == ("queued", "eligible", "wechat")


def test_cooldown_across_days(shop):
    shop.cycles(coffee=30, tea=30)
    shop.product("beans", "coffee")
    for c in ("yesterday", "three_days_ago"):
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=30), items=[("beans", 10.0)])
    # another replenishment (tea) went out earlier: daily_use cooldown is 3 days
    log(shop, AS_OF - dt.timedelta(days=1), "yesterday", "replenishment", dedupe_key="replenishment:tea:x")
    log(shop, AS_OF - dt.timedelta(days=3), "three_days_ago", "replenishment",
        dedupe_key="replenishment:tea:x")
    decide(shop)
    assert state(shop, "yesterday", "replenishment") == ("suppressed", "cooldown", None)
    assert state(shop, "three_days_ago", "replenishment")[0] == "queued"


def test_win_back_cooldown_spans_both_variants_for_90_days(shop):
    for c in ("d89", "d90"):
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=200), amount=2000.0)  # high value
    log(shop, AS_OF - dt.timedelta(days=89), "d89", "win_back", dedupe_key="win_back")
    log(shop, AS_OF - dt.timedelta(days=90), "d90", "win_back", dedupe_key="win_back")
    decide(shop)
    assert state(shop, "d89", "win_back_high_value") == ("suppressed", "cooldown", None)
    assert state(shop, "d90", "win_back_high_value")[0] == "queued"


def test_once_per_customer_even_when_held_out(shop):
    for c in ("sent", "held_out"):
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=33))
    log(shop, AS_OF - dt.timedelta(days=1), "sent", "second_purchase_nudge",
        dedupe_key="second_purchase_nudge")
    log(shop, AS_OF - dt.timedelta(days=2), "held_out", "second_purchase_nudge",
        dedupe_key="second_purchase_nudge", state="holdout")
    decide(shop)
    assert state(shop, "sent", "second_purchase_nudge") == ("suppressed", "already_sent", None)
    assert state(shop, "held_out", "second_purchase_nudge") == ("suppressed", "already_sent", None)


# --- control groups -----------------------------------------------------------------------------

def test_control_group_is_the_md5_share_and_stable_across_days(shop):
    customers = [f"c{i:03d}" for i in range(200)]
    for c in customers:  # the only occasion 33 days ago: nudge candidates on two days in a row
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=33))
    decide(shop, control_share=0.3)
    day1 = {r["customer_id"]: r["state"] for r in shop.candidates(campaign="second_purchase_nudge")}
    decide(shop, as_of=AS_OF + dt.timedelta(days=1), control_share=0.3)
    day2 = {r["customer_id"]: r["state"] for r in shop.candidates(campaign="second_purchase_nudge")}

    expected = {c for c in customers if is_holdout(c, "second_purchase_nudge", 0.3)}
    assert {c for c, s in day1.items() if s == "holdout"} == expected
    assert day1 == day2
    assert 40 <= len(expected) <= 80  # about 30 % of 200
    assert set(day1.values()) == {"queued", "holdout"}


def test_seed_control_share_overrides_the_setting(shop):
    shop.con.execute("update seeds.contact_policy_campaigns set control_share = 0 "
                     "where preset = 'daily_use' and campaign = 'birthday'")
    for i in range(30):
        shop.customer(f"c{i}", birthday=BIRTHDAY)
    decide(shop, control_share=0.5)
    assert {r["state"] for r in shop.candidates(campaign="birthday")} == {"queued"}


# --- quiet hours --------------------------------------------------------------------------------

def test_send_at_is_local_to_each_recipient_within_allowed_hours(shop):
    shop.customer("tokyo", birthday=BIRTHDAY, timezone="Asia/Tokyo")
    shop.customer("la", birthday=BIRTHDAY, timezone="America/Los_Angeles")  # DST since 8 March
    shop.customer("unknown_tz", birthday=BIRTHDAY, timezone="Mars/Olympus")
    shop.customer("no_tz", birthday=BIRTHDAY, timezone=None)
    decide(shop, store_timezone="Europe/Berlin")
    expected = {  # birthday goes at 09:00 local (daily_use seed)
        "tokyo": ("Asia/Tokyo", dt.datetime(2026, 3, 10, 0, 0)),
        "la": ("America/Los_Angeles", dt.datetime(2026, 3, 10, 16, 0)),
        "unknown_tz": ("Europe/Berlin", dt.datetime(2026, 3, 10, 8, 0)),
        "no_tz": ("Europe/Berlin", dt.datetime(2026, 3, 10, 8, 0)),
    }
    for customer, (tz, utc) in expected.items():
        row = shop.one(customer_id=customer, campaign="birthday")
        assert (row["recipient_timezone"], row["send_at_utc"]) == (tz, utc), customer
        assert row["send_at_local"] == dt.datetime(2026, 3, 10, 9, 0)


@pytest.mark.parametrize(("configured", "local_hour"), [(22, 21), (6, 8), (23, 21), (14, 14)])
def test_send_hours_are_clamped_into_the_allowed_hours(shop, configured, local_hour):
    shop.con.execute("update seeds.contact_policy_campaigns set send_hour = null "
                     "where preset = 'daily_use' and campaign = 'birthday'")
    shop.customer("c", birthday=BIRTHDAY, timezone="Asia/Kolkata")  # UTC+05:30
    decide(shop, send_hour=configured)
    row = shop.one(customer_id="c", campaign="birthday")
    assert row["send_at_local"] == dt.datetime(2026, 3, 10, local_hour)
    assert row["send_at_utc"] == dt.datetime(2026, 3, 10, local_hour) - dt.timedelta(hours=5, minutes=30)


# --- states, reasons, inputs --------------------------------------------------------------------

def test_every_candidate_ends_in_exactly_one_state_with_a_reason(shop):
    shop.cycles(coffee=30)
    shop.product("beans", "coffee")
    for i in range(40):
        c = f"c{i:02d}"
        shop.customer(c, birthday=BIRTHDAY if i % 3 == 0 else None, accepts_email=i % 4 != 0,
                      email=None if i % 7 == 0 else f"{c}@x.org")
        shop.order(c, AS_OF - dt.timedelta(days=30 + i), items=[("beans", 10.0)])
        shop.segment(c, rfm="Champions" if i % 2 else "Lost")
    decide(shop, control_share=0.2)
    rows = shop.candidates()
    keys = [(r["customer_id"], r["campaign"], r["dedupe_key"]) for r in rows]
    assert len(keys) == len(set(keys))
    reasons = {"queued": {"eligible"}, "holdout": {"control_group"},
               "suppressed": SUPPRESSION_REASONS}
    for r in rows:
        assert r["reason"] in reasons[r["state"]], r
    assert {r["state"] for r in rows} == {"queued", "holdout", "suppressed"}


def test_unknown_customer_is_suppressed(shop):
    shop.customer("known")
    shop.derive()
    shop.con.execute("insert into marts.dim_customers (customer_id, first_occasion_date, "
                     "last_occasion_date, occasions, net_revenue) values ('ghost', ?, ?, 1, 10)",
                     [AS_OF - dt.timedelta(days=1)] * 2)
    shop.build(AS_OF, select="campaign_candidates")
    assert state(shop, "ghost", "first_purchase_thanks") == ("suppressed", "unknown_customer", None)


def test_unknown_preset_and_bad_seed_rows_stop_the_run(shop):
    shop.derive()
    with pytest.raises(ActivationBuildError, match="'weekly'.*daily_use"):
        shop.build(AS_OF, select="campaign_candidates", contact_policy_preset="weekly")
    shop.con.execute("insert into seeds.contact_policy_campaigns (preset, campaign, priority, "
                     "channels, enabled) values ('daily_use', 'birthdya', 1, 'email', true)")
    with pytest.raises(ActivationBuildError, match="birthdya"):
        shop.build(AS_OF, select="campaign_candidates")


def test_missing_mart_is_a_clear_error(shop):
    shop.derive()
    shop.con.execute("drop table marts.fct_orders")
    with pytest.raises(ActivationBuildError, match=r"fct_orders does not exist"):
        shop.build(AS_OF, select="campaign_candidates")


# --- daily volume cap and channel by engagement ---------------------------------------------------

def clv(shop: Shop, **values: float | None) -> None:
    for customer_id, value in values.items():
        shop.con.execute("insert into marts.customer_predictions (customer_id, churn_risk, "
                         "predicted_clv_365d) values (?, 'low', ?)", [customer_id, value])


def test_daily_volume_cap_keeps_the_highest_predicted_clv(shop):
    shop.con.execute("update seeds.contact_policy_campaigns set daily_volume_cap = 3 "
                     "where preset = 'daily_use' and campaign = 'win_back'")
    values = {"a": 50.0, "b": 300.0, "c": 120.0, "d": 120.0, "e": None, "f": 10.0}
    for c in values:
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=100))
    shop.customer("no_consent", accepts_email=False)  # would rank first, but cannot be reached
    shop.order("no_consent", AS_OF - dt.timedelta(days=100))
    clv(shop, **values, no_consent=1e6)

    decide(shop)

    rows = {r["customer_id"]: r for r in shop.candidates(campaign="win_back")}
    # b (300), then c and d tie at 120: customer_id decides; a, f and e (no prediction) wait
    assert {c for c, r in rows.items() if r["state"] == "queued"} == {"b", "c", "d"}
    assert {c for c, r in rows.items() if r["reason"] == "daily_volume"} == {"a", "e", "f"}
    assert rows["no_consent"]["reason"] == "no_consent"

    # the blocking check recomputes the cap from the seed: decisions made under cap 3 break cap 2
    shop.con.execute("update seeds.contact_policy_campaigns set daily_volume_cap = 2 "
                     "where preset = 'daily_use' and campaign = 'win_back'")
    failed = failed_checks(shop)
    assert set(failed) == {"daily_volume_caps_respected"}
    assert failed["daily_volume_caps_respected"].failures == 1

    # cap 2: the c/d tie is broken by customer_id
    shop.con.execute("update seeds.contact_policy_campaigns set daily_volume_cap = 2 "
                     "where preset = 'daily_use' and campaign = 'win_back'")
    decide(shop)
    queued = {r["customer_id"] for r in shop.candidates(campaign="win_back", state="queued")}
    assert queued == {"b", "c"}


def test_a_customer_capped_out_of_one_campaign_may_get_another(shop):
    shop.con.execute("update seeds.contact_policy_campaigns set daily_volume_cap = 1 "
                     "where preset = 'daily_use' and campaign = 'birthday'")
    for c in ("rich", "poor"):
        shop.customer(c, birthday=BIRTHDAY)
        shop.order(c, AS_OF - dt.timedelta(days=100))
    clv(shop, rich=500.0, poor=5.0)
    decide(shop)
    assert state(shop, "rich", "birthday")[0] == "queued"
    assert state(shop, "rich", "win_back") == ("suppressed", "daily_marketing_limit", None)
    assert state(shop, "poor", "birthday") == ("suppressed", "daily_volume", None)
    assert state(shop, "poor", "win_back")[0] == "queued"


def test_holdouts_count_towards_the_daily_volume_cap(shop):
    shop.con.execute("update seeds.contact_policy_campaigns set daily_volume_cap = 20 "
                     "where preset = 'daily_use' and campaign = 'win_back'")
    customers = [f"c{i:02d}" for i in range(60)]
    for i, c in enumerate(customers):
        shop.customer(c)
        shop.order(c, AS_OF - dt.timedelta(days=100))
    clv(shop, **{c: float(i) for i, c in enumerate(customers)})
    decide(shop, control_share=0.5)
    rows = shop.candidates(campaign="win_back")
    kept = {r["customer_id"] for r in rows if r["state"] in ("queued", "holdout")}
    assert kept == set(customers[-20:])  # the 20 highest values, treated and control alike
    holdouts = {r["customer_id"] for r in rows if r["state"] == "holdout"}
    assert holdouts == {c for c in kept if is_holdout(c, "win_back", 0.5)}


def test_channel_is_the_one_engaged_with_most_in_180_days(shop):
    reachable = {"birthday": BIRTHDAY, "accepts_push": True, "push_token": "tok",
                 "accepts_wechat": True, "wechat_openid": "wx"}
    # birthday's channel order in daily_use: email | push | wechat | sms
    shop.customer("opens_wechat", **reachable)
    for day in (dt.datetime(2025, 12, 1), dt.datetime(2026, 3, 2)):
        shop.event("opens_wechat", "message_open", day, channel="wechat")
    shop.event("opens_wechat", "message_click", dt.datetime(2026, 3, 2, 9), channel="email")
    for _ in range(3):  # after the as-of date: not known on the as-of date
        shop.event("opens_wechat", "message_open", dt.datetime(2026, 3, 11, 9), channel="email")
    shop.customer("old_engagement", **reachable)  # 181 days ago: outside the window
    for _ in range(3):
        shop.event("old_engagement", "message_click", dt.datetime(2025, 9, 10, 12), channel="push")
    shop.customer("tie", **reachable)  # one each on push and wechat: push comes first in the order
    shop.event("tie", "message_open", dt.datetime(2026, 3, 1), channel="wechat")
    shop.event("tie", "message_click", dt.datetime(2026, 3, 1), channel="push")
    shop.customer("not_consented", birthday=BIRTHDAY, push_token="tok")  # push without consent
    shop.event("not_consented", "message_open", dt.datetime(2026, 3, 1), channel="push")
    shop.customer("capped", **reachable)  # most engaged on wechat, but wechat is capped
    for day in (1, 2, 3):
        shop.event("capped", "message_open", dt.datetime(2026, 3, day), channel="wechat")
    for n in (25, 20, 15, 5):  # wechat <= 4 per 30 days
        log(shop, AS_OF - dt.timedelta(days=n), "capped", "new_arrival", channel="wechat")

    decide(shop)

    assert state(shop, "opens_wechat", "birthday") == ("queued", "eligible", "wechat")
    assert shop.one(customer_id="opens_wechat")["address"] == "wx"
    assert state(shop, "old_engagement", "birthday")[2] == "email"
    assert state(shop, "tie", "birthday")[2] == "push"
    assert state(shop, "not_consented", "birthday")[2] == "email"
    assert state(shop, "capped", "birthday")[2] == "email"
