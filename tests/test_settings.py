import datetime as dt
from pathlib import Path

import pytest

from retention_pipeline.settings import load_settings


def test_defaults():
    settings = load_settings()
    assert settings.reporting_tz == "UTC"
    assert settings.min_order_value == 0
    assert settings.quarantine_threshold == 0.05
    assert settings.landing is None
    assert settings.warehouse == Path("data/warehouse.duckdb")


def test_flags_beat_env_beat_config_file(tmp_path, monkeypatch):
    config = tmp_path / "retention.toml"
    config.write_text(
        '[retention]\nreporting_tz = "Asia/Tokyo"\nmin_order_value = 5\nquarantine_threshold = 0.2\n'
    )
    monkeypatch.setenv("RETENTION_REPORTING_TZ", "Europe/Berlin")
    monkeypatch.setenv("RETENTION_MIN_ORDER_VALUE", "7")

    settings = load_settings(config=config, min_order_value=9)

    assert settings.min_order_value == 9  # flag
    assert settings.reporting_tz == "Europe/Berlin"  # env over file
    assert settings.quarantine_threshold == 0.2  # file over default


def test_config_file_found_in_working_directory(tmp_path, monkeypatch):
    (tmp_path / "retention.toml").write_text('as_of = "2026-02-28"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().effective_as_of == dt.date(2026, 2, 28)


def test_unknown_setting_in_file_is_an_error(tmp_path):
    config = tmp_path / "retention.toml"
    config.write_text("reporting_timezone = 'UTC'\n")
    with pytest.raises(ValueError, match="reporting_timezone"):
        load_settings(config=config)


def test_unknown_time_zone_is_rejected():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_settings(reporting_tz="Mars/Olympus")


def test_as_of_defaults_to_today_in_reporting_tz():
    from zoneinfo import ZoneInfo

    settings = load_settings(reporting_tz="Pacific/Kiritimati")
    assert settings.effective_as_of == dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
