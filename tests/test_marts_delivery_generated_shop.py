"""delivery_experience, price_tier_migration and the profile drivers on the generated shop,
cell by cell against an independent pandas computation (tests/independent_delivery_tiers.py),
and the effects the generator builds in, seen through the marts: a late first delivery and
trading down lower repurchase. Same shop as test_marts_generated_shop.py (tests/marts_shop.py)."""

from __future__ import annotations

import pytest

from tests import independent_delivery_tiers as independent
from tests.independent_marts import assert_same_cells
from tests.marts_shop import AS_OF, TZ, generated_shop
from tests.support.pipeline import query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return generated_shop(tmp_path_factory.getbasetemp() / "generated_shop")


def test_delivery_experience_matches_independent_computation(shop):
    landing, warehouse = shop
    expected = independent.delivery_experience(landing, AS_OF, TZ)
    actual = query(warehouse, "select * from marts.delivery_experience")
    assert len(actual) == len(expected) == 25
    assert_same_cells(actual, expected, keys=["delivery_bucket", "window_days"],
                      columns=["customers", "matured_customers", "repurchased_customers",
                               "repurchase_rate", "median_delivery_days"],
                      label="delivery_experience")
    assert (expected.groupby("delivery_bucket")["customers"].first() > 0).all()


def test_a_late_first_delivery_lowers_repurchase_within_90_days(shop):
    _, warehouse = shop
    rates = query(warehouse, """
        select delivery_bucket, matured_customers, repurchase_rate from marts.delivery_experience
        where window_days = 90
    """).set_index("delivery_bucket")
    assert rates.loc["on time", "matured_customers"] > 500
    assert rates.loc["> 2 days late", "matured_customers"] > 50
    assert rates.loc["> 2 days late", "repurchase_rate"] < 0.7 * rates.loc["on time", "repurchase_rate"]


def test_price_tiers_match_independent_computation(shop):
    landing, warehouse = shop
    expected = independent.product_tiers(landing)
    actual = query(warehouse, "select product_id, price_tier from intermediate.int_product_price_tiers")
    assert dict(zip(actual.product_id, actual.price_tier, strict=True)) == expected.to_dict()
    assert set(expected) == {1, 2, 3, 4}


def test_price_tier_migration_matches_independent_computation(shop):
    landing, warehouse = shop
    expected = independent.price_tier_migration(landing, AS_OF, TZ)
    actual = query(warehouse, "select * from marts.price_tier_migration")
    assert_same_cells(actual, expected, keys=["from_price_tier", "to_price_tier"],
                      columns=["direction", "customers", "share", "repurchased_customers_90d",
                               "repurchase_rate_90d"], label="price_tier_migration")


def test_trading_down_precedes_leaving(shop):
    _, warehouse = shop
    by_direction = query(warehouse, """
        select direction, sum(customers) as customers,
               sum(repurchased_customers_90d) / sum(customers) as rate
        from marts.price_tier_migration group by direction
    """).set_index("direction")
    assert (by_direction["customers"] > 100).all()
    assert by_direction.loc["down", "rate"] < 0.8 * by_direction.loc["same", "rate"]


def test_gender_and_age_band_drivers_match_independent_computation(shop):
    landing, warehouse = shop
    expected = independent.profile_drivers(landing, AS_OF, TZ)
    actual = query(warehouse, """
        select * from marts.repurchase_drivers where dimension in ('gender', 'age_band')
    """)
    assert_same_cells(actual, expected, keys=["dimension", "dimension_value", "window_days"],
                      columns=["customers", "matured_customers", "repurchased_customers",
                               "repurchase_rate"], label="repurchase_drivers profile")
    bands = set(expected[expected.dimension == "age_band"].dimension_value)
    assert bands == {"< 25", "25–34", "35–44", "45–54", "55+", "unknown"}
