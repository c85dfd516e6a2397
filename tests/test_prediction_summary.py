"""The per-customer (x, t_x, T, monetary) summary: pandas and DuckDB SQL agree, and both
reproduce lifetimes' CDNOW summary files from the raw CDNOW transactions."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from retention_pipeline.predictions import customer_summary, summary_sql
from tests import cdnow


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return cdnow.transactions()


def test_cdnow_summary_matches_lifetimes_file(transactions):
    """x exactly, t_x and T to the file's 2 decimals, with end = 1997-09-30 and T = days / 7."""
    ours = customer_summary(transactions, cdnow.CALIBRATION_END, cdnow.WEEK)
    published = cdnow.summary_file()
    assert len(ours) == 2357 and ours["customer_id"].tolist() == published["ID"].tolist()
    np.testing.assert_array_equal(ours["x"], published["frequency"])
    np.testing.assert_array_less(np.abs(ours["t_x"] - published["recency"]), 0.005 + 1e-9)
    np.testing.assert_array_less(np.abs(ours["T"] - published["T"]), 0.005 + 1e-9)


def test_end_of_october_first_would_not_reproduce_the_file(transactions):
    """The other day convention (end = 1997-10-01) adds a day to every T: 1/7 week off."""
    shifted = customer_summary(transactions, "1997-10-01", cdnow.WEEK)
    published = cdnow.summary_file()
    assert np.allclose(shifted["T"] - published["T"], 1 / 7, atol=0.006)


def _duckdb_summary(con, relation: str, end, unit) -> pd.DataFrame:
    out = con.sql(summary_sql(relation, end, unit)).df()
    return out.sort_values("customer_id").reset_index(drop=True)


def _assert_same(sql: pd.DataFrame, pandas: pd.DataFrame):
    assert list(sql.columns) == list(pandas.columns)
    assert sql["customer_id"].tolist() == pandas["customer_id"].tolist()
    np.testing.assert_array_equal(sql["x"], pandas["x"])
    for column in ("t_x", "T", "monetary"):
        np.testing.assert_allclose(
            sql[column], pandas[column], rtol=1e-12, atol=1e-9, equal_nan=True
        )


@pytest.mark.parametrize("end, unit", [(cdnow.CALIBRATION_END, 7.0), ("1998-06-30", 1.0)])
def test_sql_agrees_with_pandas_on_cdnow(transactions, tmp_path, end, unit):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    # Typed like the warehouse: timestamps and DECIMAL amounts, not the test frame's floats.
    con.register("frame", transactions)
    con.execute(
        "create table occasions as select customer_id::varchar as customer_id, "
        "occasion_date::timestamp as occasion_date, "
        "occasion_value::decimal(18,4) as occasion_value from frame"
    )
    frame = transactions.assign(customer_id=transactions["customer_id"].astype(str))
    expected = customer_summary(frame, end, unit).sort_values("customer_id").reset_index(drop=True)
    _assert_same(_duckdb_summary(con, "occasions", end, unit), expected)


def test_hand_worked_example(tmp_path):
    """Same-day orders form one occasion; later occasions and later customers are ignored."""
    occasions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c"],
            "occasion_date": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-01-15", "2024-02-05", "2024-01-20", "2024-03-01"]
            ),
            "occasion_value": [10.0, 5.0, 30.0, 99.0, 7.0, 1.0],
        }
    )
    end = dt.date(2024, 1, 31)
    expected = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "x": [1, 0],
            "t_x": [14 / 7, 0.0],
            "T": [30 / 7, 11 / 7],
            "monetary": [30.0, np.nan],
        }
    )
    ours = customer_summary(occasions, end, 7)
    _assert_same(ours, expected)
    con = duckdb.connect()
    con.register("occ", occasions)
    _assert_same(_duckdb_summary(con, "occ", end, 7), expected)


@pytest.mark.parametrize(
    "end, unit", [("31/01/2024", 1.0), ("2024-01-31'; drop table x; --", 1.0), ("2024-01-31", 0)]
)
def test_bad_arguments_raise(end, unit):
    with pytest.raises(ValueError):
        summary_sql("occ", end, unit)


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="occasion_value"):
        customer_summary(
            pd.DataFrame({"customer_id": [1], "occasion_date": ["2024-01-01"]}), "2024-02-01"
        )
