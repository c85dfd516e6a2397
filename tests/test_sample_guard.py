"""Only files the sample shop made are ever replaced: a warehouse built from a real landing, or a
folder of real files, survives `retention run` and `retention ui` without --landing, byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from retention_pipeline import sample_guard
from retention_pipeline.ingestion import discover_landing, ingest_entity
from retention_pipeline.runner import ensure_sample_landing
from retention_pipeline.settings import load_settings
from tests.support.pipeline import write_csv

RETENTION = str(Path(sys.executable).with_name("retention"))
AS_OF = dt.date(2026, 1, 10)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shop_warehouse(root: Path) -> Path:
    """A warehouse built from a (test) landing of a real shop."""
    landing = root / "shop_landing"
    write_csv(landing / "customers.csv", "customer_id,email", ["c1,c1@example.com"])
    write_csv(landing / "orders.csv", "order_id,customer_id,ordered_at,total_amount",
              ["o1,c1,2026-01-05T10:00:00Z,10"])
    warehouse = root / "shop.duckdb"
    con = duckdb.connect(str(warehouse))
    for entity in ("customers", "orders"):
        ingest_entity(con, discover_landing(landing), entity, AS_OF)
    con.close()
    return warehouse


def _cli(root: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETENTION_")}
    env["RETENTION_DAGSTER_HOME"] = str(root / "dagster_home")
    env["RETENTION_SAMPLE_CUSTOMERS"] = "50"  # were the guard to fail, keep the damage quick
    return subprocess.run([RETENTION, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("command", ["run", "ui"])
def test_a_shop_warehouse_survives_a_command_without_landing(tmp_path, command):
    warehouse = _shop_warehouse(tmp_path)
    before = _sha256(warehouse)
    extra = ["--port", "3999"] if command == "ui" else ["--as-of", AS_OF.isoformat()]
    result = _cli(tmp_path, command, "--warehouse", str(warehouse), *extra, timeout=120)
    assert result.returncode != 0
    message = result.stderr + result.stdout
    assert str(warehouse) in message and "--landing" in message
    assert "dagster-webserver" not in message  # `ui` stopped before starting Dagster
    assert _sha256(warehouse) == before
    assert not (tmp_path / "data" / "landing").exists()  # no sample was generated either


def _settings(root: Path, **overrides):
    values = {
        "landing": None,
        "warehouse": root / "data" / "warehouse.duckdb",
        "exports": root / "data" / "exports",
        "dagster_home": root / "data" / "dagster_home",
        "sample_customers": 40,
    }
    return load_settings(**{**values, **overrides})


def test_a_landing_folder_of_real_files_is_not_replaced_by_the_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "data" / "landing" / "orders.csv"
    write_csv(real, "order_id,customer_id,ordered_at,total_amount", ["o1,c1,2026-01-05,10"])
    before = real.read_bytes()
    with pytest.raises(sample_guard.NotTheSampleError, match="landing .*--landing"):
        ensure_sample_landing(_settings(tmp_path), AS_OF)
    assert real.read_bytes() == before
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_an_exports_folder_of_real_files_is_not_taken_by_the_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    day = tmp_path / "data" / "exports" / "2026-01-09" / "campaigns" / "win_back.csv"
    day.parent.mkdir(parents=True)
    day.write_text("customer_id\nc1\n")
    with pytest.raises(sample_guard.NotTheSampleError, match="exports"):
        ensure_sample_landing(_settings(tmp_path), AS_OF)
    assert day.read_text() == "customer_id\nc1\n"


def test_the_sample_warehouse_is_marked_kept_and_renewed_only_for_new_parameters(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    settings = _settings(tmp_path)
    landing = ensure_sample_landing(settings, AS_OF)
    assert (landing / "customers.csv").is_file()
    params = {"customers": 40, "seed": 42, "end": AS_OF.isoformat()}
    assert sample_guard.warehouse_mark(settings.warehouse) == params
    assert (settings.exports / sample_guard.EXPORTS_MARK).is_file()
    stamp = settings.warehouse.stat().st_mtime_ns
    ensure_sample_landing(settings, AS_OF)  # same parameters: nothing regenerated
    assert settings.warehouse.stat().st_mtime_ns == stamp
    ensure_sample_landing(settings, AS_OF + dt.timedelta(days=1))  # its own file: renewed
    assert sample_guard.warehouse_mark(settings.warehouse)["end"] == "2026-01-11"


def test_loading_a_real_landing_releases_the_sample_mark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = _settings(tmp_path)
    ensure_sample_landing(settings, AS_OF)
    con = duckdb.connect(str(settings.warehouse))
    sample_guard.release(con, settings.exports)
    con.close()
    assert sample_guard.warehouse_mark(settings.warehouse) is None
    assert not (settings.exports / sample_guard.EXPORTS_MARK).exists()
    # From now on the warehouse holds real data: the sample never replaces it.
    with pytest.raises(sample_guard.NotTheSampleError, match="warehouse"):
        ensure_sample_landing(settings, AS_OF + dt.timedelta(days=1))


def test_the_raw_assets_release_a_sample_warehouse_when_loading_a_real_landing(tmp_path):
    import dagster as dg

    from retention_pipeline.assets.raw import build_raw_assets
    from retention_pipeline.partitions import daily_partitions

    warehouse, exports = tmp_path / "w.duckdb", tmp_path / "exports"
    sample_guard.mark_warehouse(warehouse, {"customers": 1})
    sample_guard.mark_exports(exports, {"customers": 1})
    landing = tmp_path / "real"
    write_csv(landing / "customers.csv", "customer_id", ["c1"])
    write_csv(landing / "orders.csv", "order_id,customer_id,ordered_at,total_amount", [])
    settings = load_settings(landing=landing, warehouse=warehouse, exports=exports,
                             partitions_start=AS_OF)
    assets = [a for a in build_raw_assets(settings, daily_partitions(settings))
              if a.key.path[-1] == "customers"]
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(assets, partition_key=AS_OF.isoformat(), instance=instance).success
    assert sample_guard.warehouse_mark(warehouse) is None
    assert not (exports / sample_guard.EXPORTS_MARK).exists()
