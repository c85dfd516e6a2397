"""The dbt_target settings and the env vars profiles.yml reads from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from retention_pipeline.redact import redact_url
from retention_pipeline.settings import Settings
from retention_pipeline.targets import dbt_target_env


def test_default_target_is_duckdb_with_nothing_else_to_set():
    assert dbt_target_env(Settings()) == {"RETENTION_DBT_TARGET": "duckdb"}


def test_postgres_target_passes_the_url_parts_but_never_a_password(tmp_path):
    settings = Settings(dbt_target="postgres",
                        warehouse_url="postgresql://analyst@db.example.internal:6543/shop_dw")
    assert dbt_target_env(settings) == {
        "RETENTION_DBT_TARGET": "postgres", "RETENTION_PG_HOST": "db.example.internal",
        "RETENTION_PG_PORT": "6543", "RETENTION_PG_USER": "analyst",
        "RETENTION_PG_DATABASE": "shop_dw",
    }


@pytest.mark.parametrize("url, message", [
    ("postgresql://analyst:s3cret@db:5432/shop", "PGPASSWORD"),
    ("mysql://analyst@db/shop", "postgresql://"),
    ("postgresql://analyst@db:5432", "name the database"),
])
def test_bad_warehouse_urls_are_refused(url, message):
    with pytest.raises(ValidationError, match=message) as raised:
        Settings(dbt_target="postgres", warehouse_url=url)
    # as the CLI prints setting errors: through redact_url
    assert "s3cret" not in redact_url(str(raised.value))


def test_postgres_target_needs_a_url():
    with pytest.raises(ValidationError, match="needs warehouse_url"):
        Settings(dbt_target="postgres")


def test_spark_target_passes_the_lake_as_an_absolute_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = dbt_target_env(Settings(dbt_target="spark", lake="lake"))
    assert env == {"RETENTION_DBT_TARGET": "spark", "RETENTION_LAKE": str(tmp_path / "lake")}


def test_unknown_target_is_refused():
    with pytest.raises(ValidationError, match="duckdb"):
        Settings(dbt_target="snowflake")
