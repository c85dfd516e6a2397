"""The steps after dbt read the marts where dbt built them: with dbt_target=postgres, the Great
Expectations checks, the UI charts and the serving copies see PostgreSQL's marts (the DuckDB
warehouse holds none), through retention_pipeline/targets (read.py, local.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from retention_pipeline.quality.checks import evaluate
from retention_pipeline.quality.mart_suites import MART_FRAMES
from retention_pipeline.reports import mart_metadata, reported_tables
from retention_pipeline.serving.duckdb_file import duckdb_file_counts, publish_duckdb_file
from retention_pipeline.serving.tables import marts_reader, served_marts
from retention_pipeline.settings import Settings
from retention_pipeline.targets.local import target_view
from retention_pipeline.warehouse import connect, open_duckdb
from tests.support.serving_fixtures import fresh_pg_database

AS_OF = dt.date(2026, 11, 20)


def _pg_marts(url: str, bad_cohort: bool) -> None:
    """A month cohort of 3 customers (one 'bad' row with more active customers than the cohort
    when asked), their occasions, and a dim_customers with a personal column."""
    import psycopg

    with psycopg.connect(url) as pg:
        for schema in ("marts", "intermediate"):
            pg.execute(f"create schema {schema}")
        pg.execute("""
            create table marts.cohort_retention as
            select 'month'::text as cohort_granularity, date '2026-09-01' as cohort_start,
                   k as period_index, 3 as cohort_size,
                   case when k = 0 then 3 when k = 1 then %s else 1 end as active_customers,
                   (case when k = 0 then 3 when k = 1 then %s else 1 end) / 3.0 as retention_rate,
                   date '2026-09-01' + 30 * k <= date '2026-11-20' as is_complete
            from generate_series(0, 2) as k
            union all
            select 'week', date '2026-09-07', 0, 3, 3, 1.0, true
        """, [4 if bad_cohort else 2] * 2)
        pg.execute("""create table marts.repurchase_by_period as
            select 'month'::text as period_granularity, date '2026-10-01' as period_start,
                   4 as purchasers, 1 as repeat_purchasers, 0.25 as repeat_purchase_rate,
                   true as is_complete""")
        pg.execute("""create table marts.repurchase_by_cohort as
            select 'month'::text as cohort_granularity, date '2026-09-01' as cohort_start,
                   90 as window_days, 3 as matured_customers, 1 as repurchased_customers,
                   1 / 3.0 as repurchase_rate, 12.0 as median_days_to_second""")
        pg.execute("""create table intermediate.int_purchase_occasions as
            select 'c' || i as customer_id, date '2026-09-07' as occasion_date
            from generate_series(1, 3) as i""")
        pg.execute("""create table marts.dim_customers as
            select 'c' || i as customer_id, 'c' || i || '@example.com' as email,
                   i as occasions, i as r_score, i as f_score, i as m_score, i::numeric as fm_score,
                   'Champions'::text as rfm_segment, 'Gold'::text as member_tier
            from generate_series(1, 3) as i""")


def _settings(tmp_path, url: str) -> Settings:
    # The DuckDB warehouse exists (raw, quarantine, logs live there) but holds no marts.
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        con.execute("create schema raw")
    return Settings(warehouse=warehouse, dbt_target="postgres", warehouse_url=url,
                    duckdb_memory_limit="1GB", duckdb_threads=1)


@pytest.mark.parametrize("bad_cohort", [False, True])
def test_mart_checks_read_the_postgres_marts(tmp_path, bad_cohort):
    with fresh_pg_database() as url:
        _pg_marts(url, bad_cohort)
        evaluation = evaluate(_settings(tmp_path, url), MART_FRAMES["cohort_retention"], AS_OF)

    assert evaluation.missing_tables == ()
    assert evaluation.rows_in_scope == 4
    failed = evaluation.outcome.failed()
    if bad_cohort:
        # active 4 of a cohort of 3: a share above 1 and a part above its whole
        assert {o.expectation for o in failed} == {
            "expect_column_values_to_be_between", "expect_column_pair_values_a_to_be_greater_than_b"}
        assert all(o.unexpected_count == 1 for o in failed)
    else:
        assert failed == []  # the totals frame too: 3 cohort customers, 3 with an occasion


def test_serving_publishes_the_postgres_marts_without_personal_data(tmp_path):
    with fresh_pg_database() as url:
        _pg_marts(url, bad_cohort=False)
        settings = _settings(tmp_path, url)
        served = tmp_path / "serving.duckdb"
        with marts_reader(settings) as con:
            marts = served_marts(con, frozenset({"email"}), serve_personal=False)
            publish_duckdb_file(con, marts, served)

    counts = {"cohort_retention": 4, "dim_customers": 3, "repurchase_by_cohort": 1,
              "repurchase_by_period": 1}
    assert {m.name: m.rows for m in marts} == counts
    assert duckdb_file_counts(served) == counts
    con = open_duckdb(served, read_only=True)
    try:
        columns = [r[0] for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_name = 'dim_customers' order by ordinal_position").fetchall()]
        retention = con.execute("select period_index, active_customers from marts.cohort_retention "
                                "where cohort_granularity = 'month' order by 1").fetchall()
    finally:
        con.close()
    assert columns == ["customer_id", "occasions", "r_score", "f_score", "m_score", "fm_score",
                       "rfm_segment", "member_tier"]
    assert retention == [(0, 3), (1, 2), (2, 1)]


def test_charts_read_the_postgres_marts(tmp_path):
    with fresh_pg_database() as url:
        _pg_marts(url, bad_cohort=False)
        settings = _settings(tmp_path, url)
        tables = reported_tables(["cohort_retention", "dim_customers", "fct_orders"])
        with target_view(settings, [f"marts.{t}" for t in tables]) as con:
            cohorts = mart_metadata(con, "cohort_retention")
            customers = mart_metadata(con, "dim_customers")

    # what the charts read beyond a row count; fct_orders is only counted, never copied
    assert tables == ["cohort_retention", "dim_customers", "repurchase_by_cohort",
                      "repurchase_by_period"]
    assert cohorts["row_count"].value == 4 and cohorts["monthly_cohorts"].value == 1
    assert "retention_heatmap" in cohorts
    assert cohorts["repeat_purchase_rate_latest_complete_month"].value == 0.25
    assert cohorts["repurchase_rate_90d"].value == pytest.approx(1 / 3)
    assert customers["customers"].value == 3 and customers["repeat_customers"].value == 2
