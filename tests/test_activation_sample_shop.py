"""Activation on the generated sample shop (years of history, 5,000 customers), read from the
session's finished run: one candidate per customer, campaign and day, and the daily volume caps of
the first activation day, checked against an independent ranking in pandas."""

from __future__ import annotations

import shutil

import pytest

from retention_pipeline.activation.build import build_activation
from retention_pipeline.warehouse import connect

pytestmark = pytest.mark.slow

REACHED = ("eligible", "control_group", "daily_marketing_limit", "daily_volume")


def test_at_most_one_candidate_per_customer_campaign_and_day(sample_shop_run):
    assert sample_shop_run.outcome.success, sample_shop_run.outcome.failures
    with connect(sample_shop_run.settings.warehouse, read_only=True) as con:
        doubles = con.execute("""
            select as_of_date, campaign, customer_id, count(*) as n
            from marts.campaign_candidates
            group by all having count(*) > 1
            order by all limit 5
        """).fetchall()
        per_campaign = dict(con.execute(
            "select campaign, count(*) from marts.campaign_candidates group by 1"
        ).fetchall())
    assert doubles == []
    # the rules that used to propose several rows per customer did propose on this day
    assert per_campaign.get("replenishment", 0) > 0, per_campaign


@pytest.fixture(scope="module")
def first_day_with_caps(sample_shop_run, tmp_path_factory):
    """The sample run's activation day decided again on a copy of its warehouse, as a first
    activation day (empty contact log) with daily volume caps that bind: every campaign with at
    least 4 reachable candidates is capped at half of them."""
    warehouse = tmp_path_factory.mktemp("capped") / "warehouse.duckdb"
    shutil.copyfile(sample_shop_run.settings.warehouse, warehouse)
    settings = sample_shop_run.settings.model_copy(update={"warehouse": warehouse})
    as_of = sample_shop_run.as_of
    preset = settings.contact_policy_preset
    with connect(warehouse, settings=settings) as con:
        con.execute("delete from marts.contact_log")
        reached = dict(con.execute(
            "select campaign, count(*) from marts.campaign_candidates "
            "where list_contains(?, reason) group by 1", [list(REACHED)]
        ).fetchall())
        caps = {c: n // 2 for c, n in reached.items() if n >= 4}
        for campaign, cap in caps.items():
            con.execute(
                "update seeds.contact_policy_campaigns set daily_volume_cap = ? "
                "where preset = ? and campaign = ?", [cap, preset, campaign])
    # the real activation build of the day (its checks must pass: the caps are respected)
    build_activation(settings, as_of, select="campaign_candidates")
    with connect(warehouse, settings=settings) as con:
        candidates = con.execute(
            "select campaign, customer_id, state, reason from marts.campaign_candidates"
        ).df()
        clv = con.execute(
            "select customer_id, predicted_clv_365d as clv from marts.customer_predictions"
        ).df()
    return caps, candidates.merge(clv, on="customer_id", how="left")


def test_first_day_sends_at_most_the_daily_volume_cap(first_day_with_caps):
    caps, candidates = first_day_with_caps
    assert len(caps) >= 3, caps  # several campaigns are capped
    for campaign, cap in caps.items():
        rows = candidates[candidates["campaign"] == campaign]
        sent_or_held = rows["state"].isin(["queued", "holdout"]).sum()
        assert sent_or_held <= cap, campaign
        assert (rows["reason"] == "daily_volume").sum() > 0, campaign


def test_daily_volume_suppresses_lower_predicted_clv_than_every_sent_candidate(first_day_with_caps):
    caps, candidates = first_day_with_caps
    checked = 0
    for campaign in caps:
        rows = candidates[candidates["campaign"] == campaign]
        waiting = rows[rows["reason"] == "daily_volume"]
        sent = rows[rows["state"] == "queued"]
        if sent.empty:  # every kept candidate lost the daily slot to a higher-priority campaign
            continue
        checked += 1
        lowest_sent = sent["clv"].min()
        # lower value than every sent one (a tie at the boundary is broken by customer_id)
        assert (waiting["clv"].fillna(float("-inf")) <= lowest_sent).all(), campaign
        ties = waiting[waiting["clv"] == lowest_sent]
        tied_sent = sent[sent["clv"] == lowest_sent]
        if len(ties) and len(tied_sent):
            assert ties["customer_id"].min() > tied_sent["customer_id"].max(), campaign
    assert checked >= 3


def test_daily_volume_is_the_tail_of_the_value_ranking(first_day_with_caps):
    """Independent ranking: among a campaign's candidates that passed consent, cooldowns and
    caps, the first `cap` by predicted CLV (no prediction last), then customer_id, keep their
    place; every other one waits."""
    caps, candidates = first_day_with_caps
    for campaign, cap in caps.items():
        rows = candidates[(candidates["campaign"] == campaign)
                          & candidates["reason"].isin(REACHED)].copy()
        rows["missing"] = rows["clv"].isna()
        ranked = rows.sort_values(["missing", "clv", "customer_id"],
                                  ascending=[True, False, True])
        expected = set(ranked["customer_id"].iloc[cap:])
        got = set(rows.loc[rows["reason"] == "daily_volume", "customer_id"])
        assert got == expected, campaign
        # and nobody outside the reached set was capped
        assert not (candidates[(candidates["campaign"] == campaign)
                               & ~candidates["reason"].isin(REACHED)]["reason"]
                    == "daily_volume").any()
