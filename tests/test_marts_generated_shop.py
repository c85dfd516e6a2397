"""The retention marts on a generated shop: cell by cell against an independent pandas computation,
and the after-sales drivers the generator builds in (returns, complaints, slow support).

One shop of 2,500 customers, built once per test process (tests/marts_shop.py: real ingestion +
real `dbt build`, whose dbt tests must pass too) in a reporting time zone west of UTC, so local
dates differ from UTC dates.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests import independent_marts as independent
from tests.marts_shop import AS_OF, TZ, generated_shop
from tests.support.pipeline import query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return generated_shop(tmp_path_factory.getbasetemp() / "generated_shop")


@pytest.fixture(scope="module")
def reference(shop):
    landing, _ = shop
    return independent.all_tables(landing, AS_OF, TZ)


def _mart(warehouse, table: str) -> pd.DataFrame:
    frame = query(warehouse, f"select * from marts.{table}")
    for column in ("cohort_start", "period_start", "first_occasion_date", "last_occasion_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def test_shop_is_big_enough_to_mean_something(shop, reference):
    customers = reference["dim_customers"]
    assert len(customers) > 1500
    assert (customers["occasions"] >= 2).sum() > 300
    # the reporting time zone moves many orders to another date than their UTC date
    orders = independent.orders(shop[0], AS_OF, TZ)
    utc_dates = orders["ordered_at"].dt.tz_localize(None).dt.normalize()
    assert (orders["order_date"] != utc_dates).sum() > 500


def test_cohort_retention_matches_independent_computation(shop, reference):
    _, warehouse = shop
    expected = reference["cohort_retention"]
    actual = _mart(warehouse, "cohort_retention")
    assert len(actual) == len(expected)
    independent.assert_same_cells(
        actual, expected,
        keys=["cohort_granularity", "cohort_start", "period_index"],
        columns=["cohort_size", "active_customers", "repeat_customers", "retention_rate",
                 "on_or_after_customers", "orders", "net_revenue", "is_complete"],
        label="cohort_retention",
    )


def test_repurchase_by_cohort_matches_independent_computation(shop, reference):
    _, warehouse = shop
    independent.assert_same_cells(
        _mart(warehouse, "repurchase_by_cohort"), reference["repurchase_by_cohort"],
        keys=["cohort_granularity", "cohort_start", "window_days"],
        columns=["cohort_size", "matured_customers", "repurchased_customers", "repurchase_rate",
                 "median_days_to_second"],
        label="repurchase_by_cohort",
    )


def test_repurchase_by_period_matches_independent_computation(shop, reference):
    _, warehouse = shop
    independent.assert_same_cells(
        _mart(warehouse, "repurchase_by_period"), reference["repurchase_by_period"],
        keys=["period_granularity", "period_start"],
        columns=["purchasers", "repeat_purchasers", "repeat_purchase_rate", "new_customers",
                 "returning_customers", "returning_customer_rate", "net_revenue", "is_complete"],
        label="repurchase_by_period",
    )


def test_dim_customers_rfm_matches_independent_computation(shop, reference):
    _, warehouse = shop
    actual = _mart(warehouse, "dim_customers")
    buyers = actual[actual["occasions"] > 0]
    independent.assert_same_cells(
        buyers, reference["dim_customers"],
        keys=["customer_id"],
        columns=["first_occasion_date", "last_occasion_date", "occasions", "orders", "net_revenue",
                 "recency_days", "r_score", "f_score", "m_score", "fm_score", "rfm_segment",
                 "net_revenue_365d", "member_tier", "avg_days_between_occasions"],
        label="dim_customers",
    )
    # every registered customer is there; those who never bought have no scores
    customers = independent.read_entity(shop[0], "customers")
    assert set(customers["customer_id"]) <= set(actual["customer_id"])
    never = actual[actual["occasions"] == 0]
    assert len(never) > 0
    assert never[["r_score", "f_score", "m_score", "rfm_segment"]].isna().all().all()
    assert (never["member_tier"] == "Bronze").all()


def test_every_score_and_segment_is_used(shop):
    _, warehouse = shop
    scores = query(warehouse, """
        select count(distinct r_score) as r, count(distinct f_score) as f,
               count(distinct m_score) as m, count(distinct rfm_segment) as segments
        from marts.dim_customers where occasions > 0
    """).iloc[0]
    # frequency has heavy ties at 1 occasion, so fewer distinct f scores is right
    assert scores["r"] == 5 and scores["m"] == 5 and scores["f"] >= 3
    assert scores["segments"] >= 6


def test_return_or_complaint_after_first_order_lowers_repurchase(shop):
    _, warehouse = shop
    rates = query(warehouse, """
        select dimension_value, matured_customers, repurchase_rate
        from marts.repurchase_drivers
        where dimension = 'first_order_had_return_or_complaint' and window_days = 90
    """).set_index("dimension_value")
    assert rates.loc["yes", "matured_customers"] >= 50
    assert rates.loc["yes", "repurchase_rate"] < 0.75 * rates.loc["no", "repurchase_rate"]


def test_slower_first_support_response_means_less_repurchase(shop):
    _, warehouse = shop
    buckets = query(warehouse, """
        select first_response_bucket, customers, matured_customers_90d, repurchase_rate_90d
        from marts.aftersales_retention order by bucket_order
    """).set_index("first_response_bucket")
    assert list(buckets.index) == ["< 1 h", "1–24 h", "> 24 h", "no ticket"]
    assert (buckets.loc[["< 1 h", "1–24 h", "> 24 h"], "matured_customers_90d"] >= 30).all()
    rate = buckets["repurchase_rate_90d"]
    assert rate["< 1 h"] > rate["1–24 h"] > rate["> 24 h"]
    # the same buckets in the drivers mart
    drivers = query(warehouse, """
        select dimension_value, repurchase_rate from marts.repurchase_drivers
        where dimension = 'first_response_bucket' and window_days = 90
    """).set_index("dimension_value")["repurchase_rate"]
    assert drivers.to_dict() == pytest.approx(rate.to_dict())


def test_item_and_event_marts_are_filled(shop):
    _, warehouse = shop
    counts = query(warehouse, """
        select
            (select count(*) from marts.category_transitions) as transitions,
            (select count(*) from marts.product_quality where quality_level = 'category') as categories,
            (select count(*) from marts.product_quality where quality_level = 'product') as products,
            (select count(*) from marts.product_quality where avg_rating is not null) as rated
    """).iloc[0]
    assert counts["transitions"] > 20
    assert counts["categories"] == 11
    assert counts["products"] > 100
    assert counts["rated"] > 50
    # consumables come back for the same category more than durables do
    same = query(warehouse, """
        select first_category, sum(case when is_same_category then customers end) * 1.0
               / sum(customers) as same_share
        from marts.category_transitions group by first_category
    """).set_index("first_category")["same_share"]
    assert same["coffee"] > same["furniture"]
