"""The raw orders check on a day's batch of 1M orders, beside 2M orders of earlier days.

Measured on the 2-core reference machine: pull ~0.6 s, GX validation ~1.5 s (12 expectations).
The bound below is generous; it catches a check that starts reading the history or going quadratic.
"""

import datetime as dt
import time

import pytest

from retention_pipeline.quality.checks import evaluate
from retention_pipeline.quality.raw_suites import RAW_FRAMES
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.quality_tables import create_raw_tables

DAY_ROWS = 1_000_000
AS_OF = dt.date(2026, 3, 7)


@pytest.mark.slow
def test_raw_orders_check_on_a_million_row_batch(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        create_raw_tables(con)
        con.execute("""
            insert into raw.customers (customer_id, updated_at, _batch_date)
            select 'c' || i, timestamp '2026-03-01', date '2026-03-01' from range(200000) t(i)
        """)
        # Days 5, 6 and 7 March, 1M orders each; customers c200000.. are unknown (1 in 21).
        con.execute(f"""
            insert into raw.orders (order_id, customer_id, ordered_at, total_amount, status,
                                    refunded_amount, updated_at, _batch_date)
            select 'o' || i, 'c' || (i % 210000), timestamp '2026-03-05' + to_seconds(i % 200000),
                   (i % 500) + 1, ['completed', 'paid', 'shipped', 'cancelled'][1 + i % 4],
                   case when i % 20 = 0 then 1 end, timestamp '2026-03-05',
                   date '2026-03-05' + cast(i // {DAY_ROWS} as integer)
            from range({3 * DAY_ROWS}) t(i)
        """)
        expected_unknown = con.execute(f"""
            select count(*) from range({2 * DAY_ROWS}, {3 * DAY_ROWS}) t(i)
            where i % 210000 >= 200000
        """).fetchone()[0]

    started = time.perf_counter()
    evaluation = evaluate(load_settings(warehouse=warehouse), [RAW_FRAMES["orders"]], AS_OF)
    seconds = time.perf_counter() - started

    assert evaluation.rows_checked == DAY_ROWS and not evaluation.sampled
    failed = {o.label: o for o in evaluation.outcome.failed()}
    assert set(failed) == {"expect_column_values_to_be_null(unknown_customer_id)"}
    assert failed["expect_column_values_to_be_null(unknown_customer_id)"].unexpected_count == (
        expected_unknown)
    print(f"\n1M-row orders batch: pull {evaluation.pull_seconds} s, "
          f"validate {evaluation.validate_seconds} s, total {seconds:.1f} s")
    assert seconds < 90
