"""Mart suites on a real DuckDB warehouse, with hand-worked good and bad mart rows.

The good shop: customers A, B (first occasions in the week of 5 Jan 2026) and C (2 Feb 2026);
A buys again on 20 Jan (period 2 of its weekly cohort). The marts below are what docs/metrics.md
gives.
"""

import datetime as dt

import dagster as dg
import pytest

from retention_pipeline.quality.checks import BLOCKING_CHECK, check_result, evaluate, mart_key
from retention_pipeline.quality.gx_runner import ERROR
from retention_pipeline.quality.mart_suites import MART_FRAMES
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect

AS_OF = dt.date(2026, 2, 10)
D = dt.date

OCCASIONS = [("A", D(2026, 1, 5)), ("A", D(2026, 1, 20)), ("B", D(2026, 1, 6)), ("C", D(2026, 2, 2))]
COHORT_RETENTION = [
    # granularity, cohort_start, period_index, cohort_size, active_customers, retention_rate
    ("week", D(2026, 1, 5), 0, 2, 2, 1.0),
    ("week", D(2026, 1, 5), 1, 2, 0, 0.0),
    ("week", D(2026, 1, 5), 2, 2, 1, 0.5),
    ("week", D(2026, 2, 2), 0, 1, 1, 1.0),
    ("month", D(2026, 1, 1), 0, 2, 2, 1.0),
    ("month", D(2026, 1, 1), 1, 2, 0, 0.0),
    ("month", D(2026, 2, 1), 0, 1, 1, 1.0),
]
REPURCHASE_BY_COHORT = [
    # granularity, cohort_start, window_days, matured, repurchased, rate
    ("week", D(2026, 1, 5), 30, 2, 1, 0.5),
    ("week", D(2026, 2, 2), 30, 0, 0, None),
]
REPURCHASE_BY_PERIOD = [
    # granularity, period_start, purchasers, repeat, repeat_rate, returning, returning_rate
    ("month", D(2026, 1, 1), 2, 1, 0.5, 0, 0.0),
    ("month", D(2026, 2, 1), 1, 0, 0.0, 0, 0.0),
]
DIM_CUSTOMERS = [("A", 5, 4, 3, 3.5), ("B", 1, 1, 1, 1.0), ("C", 4, 1, 2, 1.5), ("D", None, None, None, None)]


COLUMNS = {
    "intermediate.int_purchase_occasions": "customer_id varchar, occasion_date date",
    "marts.cohort_retention": (
        "cohort_granularity varchar, cohort_start date, period_index integer, cohort_size bigint, "
        "active_customers bigint, retention_rate double"
    ),
    "marts.repurchase_by_cohort": (
        "cohort_granularity varchar, cohort_start date, window_days integer, "
        "matured_customers bigint, repurchased_customers bigint, repurchase_rate double"
    ),
    "marts.repurchase_by_period": (
        "period_granularity varchar, period_start date, purchasers bigint, repeat_purchasers bigint, "
        "repeat_purchase_rate double, returning_customers bigint, returning_customer_rate double"
    ),
    "marts.dim_customers": (
        "customer_id varchar, r_score integer, f_score integer, m_score integer, "
        "fm_score decimal(3, 1)"
    ),
}


def build_marts(warehouse, occasions=OCCASIONS, cohort_retention=COHORT_RETENTION,
                by_cohort=REPURCHASE_BY_COHORT, by_period=REPURCHASE_BY_PERIOD,
                dim_customers=DIM_CUSTOMERS, skip=()):
    rows_by_table = {
        "intermediate.int_purchase_occasions": occasions,
        "marts.cohort_retention": cohort_retention,
        "marts.repurchase_by_cohort": by_cohort,
        "marts.repurchase_by_period": by_period,
        "marts.dim_customers": dim_customers,
    }
    with connect(warehouse) as con:
        con.execute("create schema if not exists intermediate; create schema if not exists marts")
        for table, rows in rows_by_table.items():
            if table in skip:
                continue
            con.execute(f"create or replace table {table} ({COLUMNS[table]})")
            if rows:
                marks = ", ".join("?" for _ in rows[0])
                con.executemany(f"insert into {table} values ({marks})", [list(r) for r in rows])
    return load_settings(warehouse=warehouse)


def _failed(settings, mart):
    evaluation = evaluate(settings, MART_FRAMES[mart], AS_OF)
    assert all(o.severity == ERROR for o in evaluation.outcome.outcomes)  # marts: all blocking
    return {o.label: o for o in evaluation.outcome.failed()}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return build_marts(tmp_path_factory.mktemp("marts_good") / "w.duckdb")


@pytest.mark.parametrize("mart", sorted(MART_FRAMES))
def test_good_marts_pass(good, mart):
    assert _failed(good, mart) == {}


def test_cohort_retention_bad(tmp_path):
    rows = list(COHORT_RETENTION)
    rows[0] = ("week", D(2026, 1, 5), 0, 2, 1, 0.5)  # period 0 below 100 %
    rows[2] = ("week", D(2026, 1, 5), 2, 2, 3, 1.5)  # more active than the cohort
    settings = build_marts(tmp_path / "w.duckdb", cohort_retention=rows,
                           occasions=[*OCCASIONS, ("E", D(2026, 2, 3))])  # E is in no cohort
    failed = _failed(settings, "cohort_retention")
    assert set(failed) == {
        "expect_column_values_to_be_between(retention_rate, 0..1)",
        "expect_column_pair_values_a_to_be_greater_than_b(cohort_size, active_customers)",
        "expect_column_pair_values_to_be_equal(active_customers, cohort_size) where period_index == 0",
        "expect_column_pair_values_to_be_equal(cohort_customers, customers_with_occasion)",
    }
    assert failed["expect_column_values_to_be_between(retention_rate, 0..1)"].sample == [1.5]
    period0 = failed[
        "expect_column_pair_values_to_be_equal(active_customers, cohort_size) where period_index == 0"]
    assert (period0.unexpected_count, period0.element_count, period0.sample) == (1, 4, [[1, 2]])  # 4 period-0 rows
    totals = failed["expect_column_pair_values_to_be_equal(cohort_customers, customers_with_occasion)"]
    # both granularities hold 3 customers; 4 customers have an occasion
    assert (totals.unexpected_count, totals.sample) == (2, [[3, 4], [3, 4]])


def test_a_granularity_missing_from_cohort_retention_fails_the_totals(tmp_path):
    settings = build_marts(tmp_path / "w.duckdb",
                           cohort_retention=[r for r in COHORT_RETENTION if r[0] == "week"])
    failed = _failed(settings, "cohort_retention")
    totals = failed["expect_column_pair_values_to_be_equal(cohort_customers, customers_with_occasion)"]
    assert totals.sample == [[0, 3]]  # month: no cohort rows, 3 customers


def test_repurchase_marts_bad(tmp_path):
    settings = build_marts(
        tmp_path / "w.duckdb",
        by_cohort=[("week", D(2026, 1, 5), 30, 2, 3, 1.5)],
        by_period=[("month", D(2026, 1, 1), 2, 3, 1.5, 1, -0.1)],
    )
    assert set(_failed(settings, "repurchase_by_cohort")) == {
        "expect_column_values_to_be_between(repurchase_rate, 0..1)",
        "expect_column_pair_values_a_to_be_greater_than_b(matured_customers, repurchased_customers)",
    }
    by_period = _failed(settings, "repurchase_by_period")
    assert set(by_period) == {
        "expect_column_values_to_be_between(repeat_purchase_rate, 0..1)",
        "expect_column_values_to_be_between(returning_customer_rate, 0..1)",
        "expect_column_pair_values_a_to_be_greater_than_b(purchasers, repeat_purchasers)",
    }
    assert by_period["expect_column_values_to_be_between(returning_customer_rate, 0..1)"].sample == [-0.1]


def test_dim_customers_scores_outside_1_to_5(tmp_path):
    settings = build_marts(tmp_path / "w.duckdb", dim_customers=[
        ("A", 6, 4, 3, 3.5), ("B", 1, 1, 0, 1.0), ("C", 4, 1, 2, 5.5), ("D", None, None, None, None),
    ])
    failed = _failed(settings, "dim_customers")
    assert set(failed) == {
        "expect_column_values_to_be_in_set(r_score)",
        "expect_column_values_to_be_in_set(m_score)",
        "expect_column_values_to_be_between(fm_score, 1..5)",
    }
    assert failed["expect_column_values_to_be_in_set(r_score)"].sample == [6]
    assert failed["expect_column_values_to_be_in_set(m_score)"].sample == [0]
    # the customer without occasions (null scores) is not counted against the scores
    assert failed["expect_column_values_to_be_in_set(r_score)"].unexpected_percent == pytest.approx(
        100 / 3)


def test_check_result_names_the_failures_for_the_ui(tmp_path):
    settings = build_marts(tmp_path / "w.duckdb", dim_customers=[
        ("A", 6, 4, 3, 3.5), ("B", 7, 1, 1, 1.0), ("C", 4, 1, 2, 1.5),
    ])
    evaluation = evaluate(settings, MART_FRAMES["dim_customers"], AS_OF)
    result = check_result(evaluation, mart_key("dim_customers"), BLOCKING_CHECK, blocking=True,
                          missing_ok=False)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    meta = result.metadata
    assert meta["rows_checked"].value == 3 and meta["as_of"].value == "2026-02-10"
    assert (meta["expectations"].value, meta["failed_expectations"].value) == (4, 1)
    (failure,) = meta["failures"].value
    assert failure["expectation"] == "expect_column_values_to_be_in_set(r_score)"
    assert (failure["unexpected_count"], sorted(failure["sample"])) == (2, [6, 7])
    assert failure["unexpected_percent"] == pytest.approx(200 / 3)
    assert "| expect_column_values_to_be_in_set(r_score) | FAIL | 2 |" in meta["results"].value
    assert "expect_column_values_to_be_in_set(r_score): 2 of 3 rows" in result.description


def test_a_missing_mart_fails_its_check(tmp_path):
    settings = build_marts(tmp_path / "w.duckdb", skip=("marts.dim_customers",))
    evaluation = evaluate(settings, MART_FRAMES["dim_customers"], AS_OF)
    result = check_result(evaluation, mart_key("dim_customers"), BLOCKING_CHECK, blocking=True,
                          missing_ok=False)
    assert not result.passed
    assert result.metadata["missing_tables"].value == "marts.dim_customers"


def test_every_checked_mart_has_a_suite():
    from retention_pipeline.quality.checks import CHECKED_MARTS

    assert set(MART_FRAMES) == set(CHECKED_MARTS)
