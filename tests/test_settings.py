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


def test_serving_settings_from_flags_env_and_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RETENTION_SERVING")  # conftest.py's, to keep tests out of data/
    defaults = load_settings()
    assert defaults.serving == Path("data/serving.duckdb")
    assert defaults.serving_postgres_url is None and defaults.serving_parquet is None
    assert defaults.serving_postgres_reader_role == "retention_reader"
    assert defaults.serving_postgres_swap_timeout == 600
    assert defaults.serve_personal_data is False

    config = tmp_path / "retention.toml"
    config.write_text(
        '[retention]\nserving = "toml.duckdb"\nserving_parquet = "pq"\nserve_personal_data = true\n'
        'serving_postgres_reader_role = "bi"\nserving_postgres_swap_timeout = 30\n'
        'serving_postgres_url = "postgresql://toml@h/db"\n'
    )
    monkeypatch.setenv("RETENTION_SERVING_POSTGRES_URL", "postgresql://env@h/db")
    monkeypatch.setenv("RETENTION_SERVING_POSTGRES_SWAP_TIMEOUT", "45")
    settings = load_settings(config=config, serving=Path("flag.duckdb"))
    assert settings.serving == Path("flag.duckdb")  # flag
    assert settings.serving_postgres_url == "postgresql://env@h/db"  # env over file
    assert settings.serving_postgres_swap_timeout == 45
    assert settings.serving_parquet == Path("pq")  # file
    assert settings.serve_personal_data is True
    assert settings.serving_postgres_reader_role == "bi"


def test_serving_flags_reach_the_cli():
    from click.testing import CliRunner

    from retention_pipeline.cli import main

    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    for flag in ("--serving", "--serving-postgres-url", "--serving-parquet"):
        assert flag in help_text


def test_reader_role_must_be_a_plain_identifier():
    with pytest.raises(ValueError, match="serving_postgres_reader_role"):
        load_settings(serving_postgres_reader_role="bi; drop table x")
