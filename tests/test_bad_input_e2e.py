"""Bad input through the whole pipeline: a few bad rows are quarantined and the day goes on;
a broken feed stops the run before any export."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from retention_pipeline.runner import run_pipeline
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.pipeline import write_csv

pytestmark = pytest.mark.slow
AS_OF = dt.date(2026, 3, 31)
RETENTION = str(Path(sys.executable).with_name("retention"))
BAD_ORDERS = {
    # line (1-based data line) -> reason code
    "o_bad_ts,c1,yesterday-ish,10.00": "bad_timestamp",
    "o_neg,c2,2026-03-02T10:00:00Z,-5.00": "negative_amount",
    ",c3,2026-03-02T10:00:00Z,12.00": "missing_key",
}


def _landing(folder: Path, good_orders: int, bad: dict[str, str]) -> Path:
    customers = [f"c{i}" for i in range(1, good_orders + 1)]
    write_csv(folder / "customers.csv", "customer_id,email,accepts_email",
              [f"{c},{c}@example.com,true" for c in customers])
    good = [
        f"o{i},c{i},2026-03-{1 + i % 28:02d}T10:00:00Z,{10 + i}.00"
        for i in range(1, good_orders + 1)
    ]
    write_csv(folder / "orders.csv", "order_id,customer_id,ordered_at,total_amount",
              good + list(bad))
    return folder


def _settings(root: Path):
    return load_settings(
        landing=root / "landing", warehouse=root / "w.duckdb", exports=root / "exports",
        dagster_home=root / "home", as_of=AS_OF,
    )


def test_few_bad_rows_are_quarantined_and_the_day_goes_on(tmp_path):
    _landing(tmp_path / "landing", good_orders=97, bad=BAD_ORDERS)  # 3 % bad < 5 %
    settings = _settings(tmp_path)

    outcome = run_pipeline(settings)

    assert outcome.success, outcome.failures
    with connect(settings.warehouse, read_only=True) as con:
        quarantined = con.execute(
            "select source_line, reason from raw.quarantine where entity = 'orders' order by 1"
        ).fetchall()
        loaded = con.execute("select count(*) from raw.orders").fetchone()[0]
        in_mart = con.execute("select count(*) from marts.fct_orders").fetchone()[0]
    assert quarantined == [(98, "bad_timestamp"), (99, "negative_amount"), (100, "missing_key")]
    assert loaded == in_mart == 97


def test_broken_feed_stops_the_run_before_any_export(tmp_path):
    bad = {f"o_bad{i},c1,not-a-date,10.00": "bad_timestamp" for i in range(10)}
    _landing(tmp_path / "landing", good_orders=90, bad=bad)  # 10 % bad > 5 %

    result = subprocess.run(
        [RETENTION, "run", "--landing", str(tmp_path / "landing"),
         "--warehouse", str(tmp_path / "w.duckdb"), "--exports", str(tmp_path / "exports"),
         "--as-of", AS_OF.isoformat()],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )

    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAILED (BLOCKING) raw/orders quarantine_share_within_threshold" in result.stdout
    assert "10 of 100 orders rows quarantined" in result.stdout
    assert not (tmp_path / "exports" / AS_OF.isoformat()).exists()
    with connect(tmp_path / "w.duckdb", read_only=True) as con:
        marts = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    assert marts == 0, "nothing downstream of a broken feed is built"
