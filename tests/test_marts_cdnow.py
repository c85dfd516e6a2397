"""The retention marts on the real CDNOW master data (23,570 customers, 69,659 purchase lines of
1997-01 to 1998-06), converted to landing files, as of 1998-06-30, UTC.

Published reference numbers for the monthly cohorts of January, February and March 1997: their
sizes, the customers active in month 1, and the customers with two or more purchase occasions in
month 0. CDNOW has several lines per customer and day (one occasion) and lines worth $0 (valid
purchases with min_order_value 0).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.cdnow import data_dir
from tests.support.pipeline import build_warehouse, query

pytestmark = pytest.mark.slow

AS_OF = dt.date(1998, 6, 30)


def cdnow_landing(landing):
    """customers.csv + orders.csv from CDNOW_master.txt (read from the installed lifetimes package)."""
    lines = pd.read_csv(
        data_dir() / "CDNOW_master.txt", sep=r"\s+", skiprows=1, header=None,
        names=["customer_id", "date", "cds", "dollar_value"], dtype={"customer_id": str, "date": str},
    )
    landing.mkdir(parents=True)
    pd.DataFrame({"customer_id": lines["customer_id"].drop_duplicates()}).to_csv(
        landing / "customers.csv", index=False)
    day = pd.to_datetime(lines["date"], format="%Y%m%d")
    pd.DataFrame({
        "order_id": [f"L{i}" for i in range(1, len(lines) + 1)],
        "customer_id": lines["customer_id"],
        "ordered_at": day.dt.strftime("%Y-%m-%dT12:00:00Z"),
        "total_amount": lines["dollar_value"].map(lambda v: f"{v:.2f}"),
    }).to_csv(landing / "orders.csv", index=False)
    return landing, lines


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdnow")
    landing, lines = cdnow_landing(root / "landing")
    return build_warehouse(landing, root / "warehouse.duckdb", AS_OF), lines


def test_published_monthly_cohorts(cdnow):
    warehouse, _ = cdnow
    cells = query(warehouse, """
        select cohort_start, period_index, cohort_size, active_customers, repeat_customers
        from marts.cohort_retention
        where cohort_granularity = 'month' and cohort_start < date '1997-04-01' and period_index <= 1
        order by cohort_start, period_index
    """)
    cells["cohort_start"] = pd.to_datetime(cells["cohort_start"]).dt.strftime("%Y-%m")
    month0 = cells[cells["period_index"] == 0].set_index("cohort_start")
    month1 = cells[cells["period_index"] == 1].set_index("cohort_start")
    assert month0["cohort_size"].to_dict() == {"1997-01": 7846, "1997-02": 8476, "1997-03": 7248}
    assert month1["active_customers"].to_dict() == {"1997-01": 1157, "1997-02": 1312, "1997-03": 1032}
    assert month0["repeat_customers"].to_dict() == {"1997-01": 753, "1997-02": 794, "1997-03": 874}


def test_every_customer_and_order_is_counted(cdnow):
    warehouse, lines = cdnow
    totals = query(warehouse, """
        select cohort_granularity, sum(cohort_size) as customers from marts.cohort_retention
        where period_index = 0 group by all order by 1
    """)
    assert totals["customers"].tolist() == [23570, 23570]
    valid = query(warehouse, """
        select count(*) as orders, count(*) filter (where net_amount = 0) as zero_value,
               sum(net_amount) as revenue
        from marts.fct_orders where is_valid_purchase
    """).iloc[0]
    assert valid["orders"] == len(lines) == 69659
    assert valid["zero_value"] == (lines["dollar_value"] == 0).sum() > 0
    assert valid["revenue"] == pytest.approx(lines["dollar_value"].sum(), abs=0.01)
    # cohorts stop in March 1997 (CDNOW's acquisition window) but run up to June 1998
    months = query(warehouse, """
        select count(distinct cohort_start) as cohorts, max(period_index) as last_k
        from marts.cohort_retention where cohort_granularity = 'month'
    """).iloc[0]
    assert (months["cohorts"], months["last_k"]) == (3, 17)


def test_occasions_merge_same_day_lines(cdnow):
    warehouse, lines = cdnow
    occasions = query(warehouse, "select sum(occasions) as n from marts.dim_customers").iloc[0]["n"]
    assert occasions == len(lines.drop_duplicates(["customer_id", "date"])) < len(lines)
