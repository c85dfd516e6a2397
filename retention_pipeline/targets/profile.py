"""The env vars dbt_project/profiles.yml reads to pick and configure its target."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit


def dbt_target_env(settings) -> dict[str, str]:
    """RETENTION_DBT_TARGET plus the target's connection settings (never a password: PostgreSQL's
    comes from PGPASSWORD, which dbt reads from the environment as it is)."""
    env = {"RETENTION_DBT_TARGET": settings.dbt_target}
    if settings.dbt_target == "postgres":
        env.update(postgres_env(settings.warehouse_url))
    elif settings.dbt_target == "spark":
        env.update(spark_env(settings.lake))
    return env


def postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "RETENTION_PG_HOST": parts.hostname or "localhost",
        "RETENTION_PG_PORT": str(parts.port or 5432),
        "RETENTION_PG_USER": unquote(parts.username or "postgres"),
        "RETENTION_PG_DATABASE": unquote(parts.path.lstrip("/")),
    }


def spark_env(lake: Path) -> dict[str, str]:
    return {"RETENTION_LAKE": str(Path(lake).resolve())}
