"""All settings in one typed place.

Precedence (highest first): command-line flags, environment variables (``RETENTION_<NAME>``),
a TOML config file (``--config``, ``RETENTION_CONFIG`` or ``./retention.toml``), the defaults below.
Every default is documented once, here, in the field description.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_FILE = Path("retention.toml")
DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """Settings of one pipeline deployment (one shop)."""

    model_config = SettingsConfigDict(env_prefix="RETENTION_", extra="forbid", validate_default=True)

    # --- where things are -------------------------------------------------------------------
    landing: Path | None = Field(
        None,
        description="Landing folder (SPEC §1). None: the sample shop is generated into data/landing.",
    )
    warehouse: Path = Field(
        DEFAULT_DATA_DIR / "warehouse.duckdb", description="DuckDB warehouse file written by runs."
    )
    exports: Path = Field(DEFAULT_DATA_DIR / "exports", description="Folder for CRM export files.")
    dagster_home: Path = Field(
        DEFAULT_DATA_DIR / "dagster_home",
        description="DAGSTER_HOME used by `retention run` and `make ui` (run history, schedules).",
    )

    # --- what a run is for -------------------------------------------------------------------
    as_of: dt.date | None = Field(
        None, description="The day a run is for. None: today in the reporting time zone."
    )
    reporting_tz: str = Field("UTC", description="IANA time zone of every *_date, period and cohort.")
    min_order_value: float = Field(
        0.0, ge=0, description="Net amount below which an order is not a valid purchase."
    )
    partitions_start: dt.date = Field(
        dt.date(2024, 1, 1),
        description="First daily partition shown in the Dagster UI. `retention run` extends it "
        "backwards when --as-of is earlier.",
    )
    schedule_hour: int = Field(
        6, ge=0, le=23, description="Local hour (reporting time zone) of the daily scheduled run."
    )

    # --- data quality -------------------------------------------------------------------------
    quarantine_threshold: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of an entity's rows in a day's batch that may be quarantined before the "
        "run stops (no exports are written above it).",
    )

    # --- sample shop (used when no landing folder is given) ------------------------------------
    sample_customers: int = Field(5000, gt=0, description="Customers in the generated sample shop.")
    sample_seed: int = Field(42, description="Seed of the generated sample shop.")

    @field_validator("reporting_tz")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    # Flags are passed as init kwargs, so init > env > TOML file > defaults.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def effective_as_of(self) -> dt.date:
        """The as-of date: the setting, else today in the reporting time zone."""
        if self.as_of is not None:
            return self.as_of
        return dt.datetime.now(ZoneInfo(self.reporting_tz)).date()

    @property
    def effective_landing(self) -> Path:
        return self.landing if self.landing is not None else DEFAULT_DATA_DIR / "landing"

    def dbt_vars(self, as_of: dt.date) -> dict[str, Any]:
        """The dbt vars every model reads (see dbt_project/dbt_project.yml)."""
        return {
            "as_of": as_of.isoformat(),
            "reporting_tz": self.reporting_tz,
            "min_order_value": self.min_order_value,
        }


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the `[retention]` table (or the top level) of the config file, if there is one."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data().items() if k in self.settings_cls.model_fields}

    def _data(self) -> dict[str, Any]:
        path = config_file_path()
        if path is None:
            return {}
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        data = data.get("retention", data)
        unknown = set(data) - set(self.settings_cls.model_fields)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}")
        return data


_config_override: Path | None = None


def config_file_path() -> Path | None:
    """The config file in force: --config, else RETENTION_CONFIG, else ./retention.toml if present."""
    if _config_override is not None:
        return _config_override
    env = os.environ.get("RETENTION_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"RETENTION_CONFIG points to a missing file: {path}")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Settings from flags (None values ignored), env, config file and defaults."""
    global _config_override
    if config is not None and not Path(config).is_file():
        raise FileNotFoundError(f"config file not found: {config}")
    _config_override = Path(config) if config is not None else None
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    finally:
        _config_override = None
