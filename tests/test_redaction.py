"""Personal data never reaches logs or the UI: samples of personal-data columns in check metadata
are masked; the password of a database URL never appears in printed errors."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest
from click.testing import CliRunner

from retention_pipeline.assets.raw import raw_key
from retention_pipeline.cli import main
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.quality import build_quality_checks
from retention_pipeline.quality.checks import WARNING_CHECK
from retention_pipeline.quality.gx_runner import run_suite
from retention_pipeline.quality.raw_suites import customers_suite
from retention_pipeline.redact import mask, mask_value, redact_url
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect
from tests.support.quality_tables import create_raw_tables, insert_rows

DAY = dt.date(2025, 6, 10)
BAD_EMAILS = ["carol.smith@example", "no-at-sign.example.com", "dave smith@example.com"]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("email", "carol@example.com", "c\u2026@example.com"),
        ("email", "no-at-sign", "n\u2026"),
        ("first_name", "Carol", "C\u2026"),
        ("phone", "+49 30 1234567", "+\u2026"),
        ("birthday", "1990-02-30", "1\u2026"),
        ("push_token", "tok-123", "t\u2026"),
        ("wechat_openid", "oABC", "o\u2026"),
        ("email", None, None),
        ("country", "DE", "DE"),  # not personal: as it is
    ],
)
def test_personal_values_are_masked(column, value, expected):
    assert mask(column, value) == expected


def test_mask_value_never_returns_more_than_a_first_character():
    assert mask_value("secret-token") == "s\u2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql+psycopg://shop:s3cr3t@db.example/shop",
         "postgresql+psycopg://shop:***@db.example/shop"),
        ("cannot reach mysql+pymysql://root:p%40ss@127.0.0.1:3306/shop (table orders)",
         "cannot reach mysql+pymysql://root:***@127.0.0.1:3306/shop (table orders)"),
        ("postgresql://reader@db/shop", "postgresql://reader@db/shop"),  # no password: as it is
        ("no url here: a:b@c", "no url here: a:b@c"),
    ],
)
def test_redact_url_hides_only_the_password(text, expected):
    assert redact_url(text) == expected


def test_a_failing_email_expectation_shows_masked_samples():
    frame = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4"],
        "updated_at": [dt.datetime(2025, 1, 1)] * 4,
        "email": ["ok@example.com", *BAD_EMAILS],
        "birthday": [None] * 4,
        "timezone": ["UTC"] * 4,
    })
    outcome = run_suite(frame, "raw.customers", customers_suite(DAY))
    (failed,) = [o for o in outcome.failed() if o.columns == ("email",)]
    assert failed.unexpected_count == 3
    assert sorted(failed.sample) == sorted(["c\u2026@example", "n\u2026", "d\u2026@example.com"])


def test_check_metadata_and_description_in_dagster_never_hold_the_addresses(tmp_path):
    settings = load_settings(warehouse=tmp_path / "warehouse.duckdb")
    partitions = daily_partitions(settings)

    @dg.asset(key=raw_key("customers"), partitions_def=partitions)
    def customers():
        with connect(settings.warehouse) as con:
            create_raw_tables(con)
            rows = [{"customer_id": f"c{i}", "email": e, "updated_at": dt.datetime(2025, 6, 10, i)}
                    for i, e in enumerate(["ok@example.com", *BAD_EMAILS])]
            insert_rows(con, "customers", rows, DAY)

    checks = build_quality_checks(settings, partitions, asset_keys={raw_key("customers")})
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([customers, *checks], partition_key=DAY.isoformat(),
                                instance=instance, raise_on_error=False)
    assert result.success
    (warning,) = [e for e in result.get_asset_check_evaluations() if e.check_name == WARNING_CHECK]
    assert not warning.passed
    (failure,) = warning.metadata["failures"].value
    assert failure["expectation"].startswith("expect_column_values_to_match_regex(email")
    assert "d\u2026@example.com" in failure["sample"]
    shown = json.dumps({k: str(v.value) for k, v in warning.metadata.items()})
    shown += warning.description or ""
    for email in BAD_EMAILS:
        assert email not in shown and email.split("@")[0] not in shown


def test_a_url_in_an_invalid_setting_is_printed_without_its_password(monkeypatch):
    monkeypatch.setenv("RETENTION_REPORTING_TZ", "postgresql://shop:hunter2@db/shop")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    assert "hunter2" not in result.output
    assert "postgresql://shop:***@db/shop" in result.output
