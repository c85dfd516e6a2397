"""Dagster metadata of the marts (retention_pipeline.reports) on a built generated shop."""

from __future__ import annotations

import base64
import io
import re

import dagster as dg
import duckdb
import matplotlib.image
import pytest

from retention_pipeline.reports import REPORTED_MARTS, mart_metadata
from retention_pipeline.warehouse import connect
from tests.marts_shop import AS_OF, generated_shop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    _, warehouse = generated_shop(tmp_path_factory.getbasetemp() / "generated_shop")
    with connect(warehouse, read_only=True) as connection:
        yield connection


def decoded_png(value: dg.MetadataValue):
    assert isinstance(value, dg.MarkdownMetadataValue)
    match = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", value.md_str)
    assert match, value.md_str[:200]
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(match.group(1))), format="png")


def test_every_mart_reports_its_row_count(con):
    for mart in REPORTED_MARTS:
        metadata = mart_metadata(con, mart)
        expected = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
        assert metadata["row_count"] == dg.MetadataValue.int(expected), mart
        assert expected > 0, mart
        assert all(isinstance(v, dg.MetadataValue) for v in metadata.values()), mart


def test_cohort_heatmap_and_repurchase_curves_are_pngs(con):
    heatmap = decoded_png(mart_metadata(con, "cohort_retention")["retention_heatmap"])
    curves = decoded_png(mart_metadata(con, "repurchase_by_cohort")["repurchase_curves"])
    for image in (heatmap, curves):
        height, width, channels = image.shape
        assert height > 200 and width > 300 and channels in (3, 4)
        assert image.std() > 0.05  # not a blank canvas


def test_headline_numbers_equal_sql_on_the_orders(con):
    # computed from fct_orders alone: the valid orders and their local dates
    expected_month = con.execute("""
        with days as (
            select customer_id, count(distinct order_date) as occasions
            from marts.fct_orders
            where is_valid_purchase and order_date between date '2025-06-01' and date '2025-06-30'
            group by customer_id
        )
        select count(*) filter (where occasions >= 2) / count(*) from days
    """).fetchone()[0]
    expected_90d = con.execute(f"""
        with dates as (
            select distinct customer_id, order_date from marts.fct_orders where is_valid_purchase
        ),
        numbered as (
            select customer_id, order_date,
                   row_number() over (partition by customer_id order by order_date) as n
            from dates
        ),
        firsts as (
            select customer_id,
                   max(order_date) filter (where n = 1) as first_date,
                   max(order_date) filter (where n = 2) as second_date
            from numbered group by customer_id
        )
        select count(*) filter (where second_date - first_date <= 90) / count(*)
        from firsts where first_date + 90 <= date '{AS_OF}'
    """).fetchone()[0]
    for mart in ("cohort_retention", "repurchase_by_cohort", "repurchase_by_period"):
        metadata = mart_metadata(con, mart)
        assert metadata["latest_complete_month"] == dg.MetadataValue.text("2025-06")
        assert metadata["repeat_purchase_rate_latest_complete_month"].value == pytest.approx(expected_month)
        assert metadata["repurchase_rate_90d"].value == pytest.approx(expected_90d)
    assert 0 < expected_month < 0.5 and 0.1 < expected_90d < 0.6


def test_customer_mart_reports_segments_and_tiers(con):
    metadata = mart_metadata(con, "dim_customers")
    segments = metadata["rfm_segments"].value
    assert sum(segments.values()) == metadata["customers_with_purchase"].value
    assert sum(metadata["member_tiers"].value.values()) == metadata["customers"].value


def test_empty_marts_and_missing_tables(con, tmp_path):
    """A warehouse whose marts exist but are empty still gets metadata, without charts."""
    empty = duckdb.connect()
    empty.execute("create schema marts")
    database = con.execute("select current_database()").fetchone()[0]
    for mart in REPORTED_MARTS:
        columns = con.execute(f"""
            select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position)
            from information_schema.columns
            where table_catalog = '{database}' and table_schema = 'marts' and table_name = '{mart}'
        """).fetchone()[0]
        empty.execute(f"create table marts.{mart} ({columns})")
    for mart in REPORTED_MARTS:
        metadata = mart_metadata(empty, mart)
        assert metadata["row_count"] == dg.MetadataValue.int(0)
    retention = mart_metadata(empty, "cohort_retention")
    assert retention["repurchase_rate_90d"] == dg.MetadataValue.null()
    assert "no data" in retention["retention_heatmap"].md_str
    assert mart_metadata(empty, "no_such_mart") == {}


def test_delivery_plot_and_trading_table(con):
    plot = decoded_png(mart_metadata(con, "delivery_experience")["repurchase_by_delivery"])
    height, width, _ = plot.shape
    assert height > 200 and width > 300 and plot.std() > 0.05
    table = mart_metadata(con, "price_tier_migration")["trading_up_and_down"].md_str
    customers = con.execute("""
        select direction, sum(customers) from marts.price_tier_migration group by direction
    """).fetchall()
    for direction, n in customers:
        assert f"| {direction} | {int(n):,} |" in table
