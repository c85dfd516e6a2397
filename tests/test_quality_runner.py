"""gx_runner: a DataFrame + a GX 1.x suite -> outcomes with counts, percents and sample values."""

import datetime as dt

import duckdb
import great_expectations.expectations as gxe
import pandas as pd
import pytest
from great_expectations.expectations.row_conditions import Column

from retention_pipeline.quality.gx_runner import ERROR, WARN, json_safe, run_suite


def _suite(*expectations):
    return "t", list(expectations)


@pytest.fixture(scope="module")
def frame():
    # Built by DuckDB, as the checks build theirs: nullable INTEGER arrives as pandas Int32.
    return duckdb.sql("""
        select * from (values
            ('a', 1, timestamp '2024-01-01 08:00', 0.5),
            ('a', 2, timestamp '2024-01-01 08:00', 0.9),
            ('b', null, timestamp '2024-01-02 09:00', null),
            (null, 0, timestamp '2024-01-03 10:00', 1.5),
            ('c', 7, null, 0.2)
        ) t(k, q, u, r)
    """).df()


def test_failures_carry_counts_percent_and_sample_values(frame):
    outcome = run_suite(frame, *_suite(
        gxe.ExpectColumnValuesToNotBeNull(column="k"),
        gxe.ExpectColumnValuesToBeBetween(column="q", min_value=1, max_value=5,
                                          meta={"severity": WARN, "why": "units"}),
        gxe.ExpectColumnValuesToBeBetween(column="r", min_value=0, max_value=1),
    ))
    assert outcome.rows == 5
    by_label = outcome.by_label()
    nulls = by_label["expect_column_values_to_not_be_null(k)"]
    assert (nulls.success, nulls.unexpected_count, nulls.element_count) == (False, 1, 5)
    assert nulls.unexpected_percent == pytest.approx(20.0)
    assert nulls.sample == [None] and nulls.severity == ERROR

    quantity = by_label["expect_column_values_to_be_between(q, 1..5)"]
    # 0 and 7 are out of 1..5; the null is not counted (GX skips missing values).
    assert quantity.unexpected_count == 2 and sorted(quantity.sample) == [0, 7]
    assert quantity.unexpected_percent == pytest.approx(50.0)  # of the 4 non-null values
    assert (quantity.severity, quantity.why) == (WARN, "units")

    share = by_label["expect_column_values_to_be_between(r, 0..1)"]
    assert share.sample == [1.5] and share.unexpected_count == 1


def test_outcomes_keep_the_suite_order(frame):
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column="r", min_value=0, max_value=1),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["k", "u"]),
        gxe.ExpectColumnValuesToNotBeNull(column="k"),
        gxe.ExpectColumnValuesToBeInSet(column="q", value_set=[1, 2]),
    ]
    outcome = run_suite(frame, *_suite(*expectations))
    assert [o.expectation for o in outcome.outcomes] == [e.expectation_type for e in expectations]


def test_compound_duplicates_are_listed_as_rows(frame):
    outcome = run_suite(frame, *_suite(gxe.ExpectCompoundColumnsToBeUnique(column_list=["k", "u"])))
    (dupes,) = outcome.outcomes
    assert dupes.unexpected_count == 2
    assert dupes.sample == [{"k": "a", "u": "2024-01-01T08:00:00"}] * 2


def test_pair_and_row_condition_work_on_nullable_integers(frame):
    # pd.NA in an Int32 column makes GX's pair metrics raise; the runner converts such columns.
    df = frame.assign(p=pd.array([1, 2, 2, 0, 7], dtype="Int32"))
    outcome = run_suite(df, *_suite(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="p", column_B="q", or_equal=True, ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="q", column_B="p",
                                            row_condition=Column("k") == "a"),
    ))
    at_least, equal_when_a = outcome.outcomes
    assert at_least.error is None and at_least.success
    assert equal_when_a.condition == "k == 'a'"
    assert equal_when_a.label == "expect_column_pair_values_to_be_equal(q, p) where k == 'a'"
    assert equal_when_a.success and equal_when_a.element_count == 2


def test_a_missing_column_is_a_failure_with_the_error_text(frame):
    outcome = run_suite(frame, *_suite(gxe.ExpectColumnValuesToNotBeNull(column="nope")))
    (missing,) = outcome.outcomes
    assert not missing.success
    assert "nope" in missing.error
    assert outcome.failed(ERROR) == [missing] and outcome.failed(WARN) == []


def test_an_empty_frame_passes(frame):
    outcome = run_suite(frame.iloc[0:0], *_suite(
        gxe.ExpectColumnValuesToNotBeNull(column="k"),
        gxe.ExpectColumnValuesToBeBetween(column="r", min_value=0, max_value=1),
    ))
    assert outcome.rows == 0 and outcome.failed() == []


def test_json_safe_values():
    assert json_safe(pd.Timestamp("2024-01-02 03:04:05")) == "2024-01-02T03:04:05"
    assert json_safe(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_safe(float("nan")) is None and json_safe(pd.NaT) is None and json_safe(pd.NA) is None
    assert json_safe((pd.array([3], dtype="Int32")[0], 2.5)) == [3, 2.5]


def test_gx_runs_offline(frame, monkeypatch):
    """No analytics, no version check: GX must not open a network connection."""
    import socket

    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    outcome = run_suite(frame, *_suite(gxe.ExpectColumnValuesToNotBeNull(column="u")))
    assert outcome.outcomes[0].unexpected_count == 1
    assert attempts == []
