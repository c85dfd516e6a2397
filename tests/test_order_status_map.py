"""A shop's own order statuses: mapped by the seed order_status_map (WooCommerce `processing`
counts as `paid`), an unknown one is not a purchase (`unknown_status`) and a warning check names it.
Also: a customer with one bad optional field (birthday) is still in dim_customers."""

from __future__ import annotations

import csv
import datetime as dt

import dagster as dg
import pytest

from retention_pipeline.ingestion.schema import ORDER_STATUSES
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.quality import build_quality_checks
from retention_pipeline.quality.status_check import CHECK_NAME, ORDERS_MART
from retention_pipeline.settings import load_settings
from retention_pipeline.status_map import SEED, known_statuses, normalized, status_map
from tests.support.pipeline import dbt, ingest, query, write_csv

AS_OF = dt.date(2026, 2, 10)


def test_the_seed_maps_the_big_platforms_to_contract_statuses():
    with SEED.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["status"] for r in rows} <= set(ORDER_STATUSES)
    keys = [normalized(r["shop_status"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per status
    mapped = status_map()
    woo = {"pending": "placed", "processing": "paid", "on_hold": "placed", "failed": "cancelled",
           "checkout_draft": "test", "trash": "cancelled", "wc_processing": "paid"}
    shopify = {"authorized": "placed", "partially_paid": "placed", "voided": "cancelled",
               "fulfilled": "shipped", "unfulfilled": "placed"}
    magento = {"pending_payment": "placed", "holded": "placed", "complete": "completed",
               "closed": "refunded", "canceled": "cancelled", "fraud": "cancelled",
               "payment_review": "placed"}
    assert {k: mapped[k] for k in {**woo, **shopify, **magento}} == {**woo, **shopify, **magento}
    assert "lost_in_mail" not in known_statuses()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("status_shop")
    landing = root / "landing"
    write_csv(landing / "customers.csv", "customer_id,email,birthday",
              ["c1,c1@example.com,1990-02-30", "c2,c2@example.com,1985-06-01",
               "c3,c3@example.com,"])
    write_csv(landing / "orders.csv", "order_id,customer_id,ordered_at,total_amount,status", [
        "o1,c1,2026-01-05T10:00:00Z,10,processing",    # WooCommerce: paid
        "o2,c2,2026-01-06T10:00:00Z,20,lost_in_mail",  # nobody's status
        "o3,c2,2026-01-07T10:00:00Z,30,On-Hold",       # WooCommerce, any case
        "o4,c3,2026-01-08T10:00:00Z,40,Canceled",      # Magento: cancelled
        "o5,c3,2026-01-09T10:00:00Z,50,lost_in_mail",
        "o6,c3,2026-01-10T10:00:00Z,60,",              # missing: completed
    ])
    warehouse = root / "warehouse.duckdb"
    ingest(landing, warehouse, AS_OF)
    # Only what these tests read (and the dbt tests of those models alone).
    dbt(["build", "--select", "+fct_orders +dim_customers", "--indirect-selection", "cautious"],
        warehouse, {"as_of": AS_OF.isoformat(), "reporting_tz": "UTC", "min_order_value": 0})
    return warehouse


def test_platform_statuses_count_and_unknown_ones_do_not(shop):
    orders = query(shop, "select order_id, status, shop_status, is_valid_purchase, "
                   "coalesce(invalid_reason, '-') as invalid_reason "
                   "from marts.fct_orders order by order_id")
    got = {r.order_id: (r.status, r.shop_status, bool(r.is_valid_purchase), r.invalid_reason)
           for r in orders.itertuples()}
    assert got == {
        "o1": ("paid", "processing", True, "-"),
        "o2": ("lost_in_mail", "lost_in_mail", False, "unknown_status"),
        "o3": ("placed", "on-hold", True, "-"),
        "o4": ("cancelled", "canceled", False, "cancelled"),
        "o5": ("lost_in_mail", "lost_in_mail", False, "unknown_status"),
        "o6": ("completed", "completed", True, "-"),
    }
    customers = query(shop, "select customer_id, orders, net_revenue from marts.dim_customers "
                      "order by customer_id")
    counts = {r.customer_id: (int(r.orders), float(r.net_revenue)) for r in customers.itertuples()}
    assert counts["c2"] == (1, 30.0)  # the lost_in_mail order is not a purchase
    assert counts["c3"] == (1, 60.0)


def test_a_customer_with_a_bad_birthday_is_kept_with_a_null_birthday(shop):
    staged = query(shop, "select customer_id, birthday from staging.stg_shop__customers "
                   "order by customer_id")
    assert staged.customer_id.tolist() == ["c1", "c2", "c3"]
    assert staged.birthday.isna().tolist() == [True, False, True]
    assert "c1" in set(query(shop, "select customer_id from marts.dim_customers").customer_id)
    field = query(shop, "select level, column_name, value, reason from raw.quarantine "
                  "where level = 'field'")
    assert field.values.tolist() == [["field", "birthday", "1990-02-30", "bad_date"]]
    assert query(shop, "select count(*) as n from marts.fct_orders where customer_id = 'c1' "
                 "and is_known_customer").n[0] == 1


def test_unknown_statuses_are_kept_and_listed_in_the_quarantine_table(shop):
    """The order stays (it counts once the seed maps its status), and raw.quarantine names it
    with level 'kept', so what needs a look is in one table."""
    kept = query(shop, "select source_line, level, column_name, value, reason "
                 "from raw.quarantine where entity = 'orders' order by source_line")
    assert kept.values.tolist() == [[2, "kept", "status", "lost_in_mail", "unknown_status"],
                                    [5, "kept", "status", "lost_in_mail", "unknown_status"]]
    loaded = query(shop, "select count(*) as n from raw.orders")
    assert loaded.n[0] == 6


def test_the_warning_check_names_the_unknown_statuses_and_their_counts(shop):
    settings = load_settings(warehouse=shop)
    partitions = daily_partitions(settings)

    @dg.asset(key=ORDERS_MART, partitions_def=partitions)
    def fct_orders():
        """Built above by dbt."""

    checks = build_quality_checks(settings, partitions, asset_keys={ORDERS_MART})
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([fct_orders, *checks], partition_key=AS_OF.isoformat(),
                                instance=instance, raise_on_error=False)
    assert result.success  # a warning never stops the run
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["unknown_statuses"].value == {"lost_in_mail": 2}
    assert evaluation.metadata["orders"].value == 2
    assert "'lost_in_mail' (2 orders)" in evaluation.description
    assert "order_status_map.csv" in evaluation.description
