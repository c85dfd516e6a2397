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
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_FILE = Path("retention.toml")
SOURCE_PASSWORD_ENV = "RETENTION_SOURCE_PASSWORD"
DEFAULT_DATA_DIR = Path("data")


class SourceTable(BaseModel):
    """Where one entity lives in the shop database when its names differ from the contract's."""

    model_config = ConfigDict(extra="forbid")
    table: str | None = Field(None, description="Table name (None: the entity's name).")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Contract column -> the table's column."
    )


# Settings the activation models read as dbt vars of the same names (dbt_project.yml lists them
# with the same defaults, for a `dbt build` by hand).
ACTIVATION_DBT_VARS = (
    "contact_policy_preset", "store_timezone", "control_share", "channel_engagement_days",
    "send_hour", "thanks_after_days", "nudge_min_days", "nudge_max_days",
    "replenishment_days_before_due", "replenishment_days_after_due", "vip_lead_days", "vip_tiers",
    "vip_segments", "new_arrival_launch_days", "new_arrival_lookback_days", "followup_after_days",
    "win_back_min_days", "win_back_cycle_multiple", "win_back_cooldown_days",
    "win_back_high_value_revenue", "surprise_reward_probability", "surprise_reward_recent_days",
    "surprise_reward_min_gap_days", "surprise_reward_segments", "abandoned_checkout_after_days",
    "abandoned_checkout_repeat_days", "delivery_apology_late_days",
    "delivery_apology_slow_percentile", "delivery_apology_lost_after_days",
    "lift_attribution_days", "churner_risk_bands",
)


class Settings(BaseSettings):
    """Settings of one pipeline deployment (one shop)."""

    model_config = SettingsConfigDict(env_prefix="RETENTION_", extra="forbid", validate_default=True)

    # --- where things are -------------------------------------------------------------------
    landing: Path | None = Field(
        None,
        description="Landing folder (README: Bringing your own data). None: the sample shop is "
        "generated into data/landing.",
    )
    warehouse: Path = Field(
        DEFAULT_DATA_DIR / "warehouse.duckdb", description="DuckDB warehouse file written by runs."
    )
    exports: Path = Field(DEFAULT_DATA_DIR / "exports", description="Folder for CRM export files.")
    dbt_target: Literal["duckdb", "postgres", "spark"] = Field(
        "duckdb", description="Engine dbt builds the models in: 'duckdb' (the warehouse file), "
        "'postgres' (warehouse_url) or 'spark' (lake). Ingestion always validates into the "
        "DuckDB warehouse first; the raw rows are then loaded into the target.",
    )
    warehouse_url: str | None = Field(
        None, description="dbt_target=postgres: postgresql://user@host:port/database holding the "
        "schemas raw, staging, intermediate, seeds and marts. The password comes from the "
        "environment (PGPASSWORD), never from the URL.",
    )
    lake: Path = Field(
        DEFAULT_DATA_DIR / "lake", description="dbt_target=spark: folder of local Spark's "
        "warehouse (Parquet tables, raw/ partitioned by _batch_date) and its metastore.",
    )
    duckdb_memory_limit: str = Field(
        "6GB", description="DuckDB memory_limit of every connection the pipeline opens, dbt's "
        "included (e.g. '6GB', '80%'); beyond it DuckDB spills to duckdb_temp_directory.",
    )
    duckdb_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 2, ge=1,
        description="DuckDB threads of every connection, dbt's included, and the models dbt "
        "builds at once on DuckDB. Default: the CPU cores.",
    )
    duckdb_temp_directory: Path | None = Field(
        None, description="Folder DuckDB spills to beyond duckdb_memory_limit. None: duckdb_tmp "
        "beside the warehouse file.",
    )
    dagster_home: Path = Field(
        DEFAULT_DATA_DIR / "dagster_home",
        description="DAGSTER_HOME used by `retention run` and `make ui` (run history, schedules).",
    )
    dagster_storage_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user:password@host:5432/db) for Dagster's run, "
        "event-log and schedule storage, for `retention webserver` + `retention daemon` as "
        "services. None: SQLite files in the Dagster home. dagster.yaml reads it from the "
        "environment (RETENTION_DAGSTER_STORAGE_URL), never a copy on disk.",
    )

    # --- reading a shop database instead of a landing folder (README: Reading a shop database) --
    source_url: str | None = Field(
        None, description="SQLAlchemy URL of the shop's database (postgresql+psycopg://user@host/"
        "shop or mysql+pymysql://user@host/shop): the five entities are read from its tables "
        "instead of a landing folder. Never with a password in the config file: the password "
        f"comes from {SOURCE_PASSWORD_ENV} (or the URL in the environment). None: landing folder.",
    )
    source_mapping: dict[str, SourceTable] = Field(
        default_factory=dict, description="Per entity, the shop's table and column names where they "
        "differ from the contract's (TOML: [retention.source_mapping.orders] table = 'wp_orders', "
        "columns = {order_id = 'id'}).",
    )
    source_lag_hours: float = Field(
        1.0, ge=0, description="Each run re-reads rows whose updated_at is up to this many hours "
        "before the last run's cursor, so rows committed late are not missed (re-read rows count "
        "as duplicates).",
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
    freshness_grace_hours: float = Field(
        2.0, gt=0, le=23, description="The marts are stale (freshness policy, shown in the UI) when "
        "the morning run has not landed by schedule_hour plus this many hours.",
    )
    verbose: bool = Field(
        False, description="`retention run` also prints dbt's own log lines (otherwise one line "
        "per step start and end, and one every 30 s while a step runs or waits).",
    )
    schedule_minute: int = Field(
        0, ge=0, le=59, description="Minute of schedule_hour at which the daily scheduled run starts."
    )

    # --- data quality -------------------------------------------------------------------------
    quarantine_threshold: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of an entity's rows in a day's batch that may be quarantined before the "
        "run stops (no exports are written above it).",
    )
    quality_max_rows: int = Field(
        2_000_000,
        gt=0,
        description="Most rows one Great Expectations check pulls into pandas. A bigger day's batch "
        "(e.g. a first full-history load) is checked on a key-hash sample of about this size.",
    )

    # --- activation: contact policy (docs/activation.md; the policy itself is in the seeds) ------
    contact_policy_preset: str = Field(
        "daily_use",
        description="Preset of the contact-policy seeds (dbt_project/seeds/contact_policy_*.csv): "
        "'daily_use', 'monthly_service', 'yearly_durable', or a preset added to the seeds.",
    )
    store_timezone: str | None = Field(
        None,
        description="IANA time zone for send times of recipients without a valid time zone. "
        "None: the reporting time zone.",
    )
    control_share: float = Field(
        0.10, ge=0, le=0.5, description="Share of each campaign's candidates held out as control "
        "group (stable: md5 of customer and campaign); a seed row may override it per campaign.",
    )
    channel_engagement_days: int = Field(
        180, ge=1, description="Channel choice: message_open / message_click events of this many "
        "days (ending on the as-of date) rank a customer's channels; ties keep the campaign's order.",
    )
    send_hour: int = Field(
        10, ge=0, le=23, description="Local hour of the recipient at which sends are scheduled; a "
        "seed row may override it per campaign; always clamped into the preset's allowed hours.",
    )
    # --- activation: campaign rules (docs/metrics.md#campaigns; 'last N days' ends on as-of) -
    thanks_after_days: int = Field(
        1, ge=0, description="first_purchase_thanks: days after the first occasion (1 = yesterday)."
    )
    nudge_min_days: int = Field(
        30, ge=1, description="second_purchase_nudge: earliest day after the only occasion."
    )
    nudge_max_days: int = Field(
        37, ge=1, description="second_purchase_nudge: latest day after the only occasion."
    )
    replenishment_days_before_due: int = Field(
        3, ge=0, description="replenishment: days before the due date the reminder may start."
    )
    replenishment_days_after_due: int = Field(
        7, ge=0, description="replenishment: days after the due date the reminder may still go."
    )
    vip_lead_days: int = Field(
        3, ge=1, description="vip_early_access: products launching within this many days after as-of."
    )
    vip_tiers: list[str] = Field(
        ["Gold", "Platinum"], description="vip_early_access: member tiers that count as VIP."
    )
    vip_segments: list[str] = Field(
        ["Champions", "Loyal Customers"], description="vip_early_access: RFM segments that count as VIP."
    )
    new_arrival_launch_days: int = Field(
        7, ge=1, description="new_arrival: products launched in this many days before as-of."
    )
    new_arrival_lookback_days: int = Field(
        365, ge=1, description="new_arrival: the customer bought in the category within this many days."
    )
    followup_after_days: int = Field(
        1, ge=0, description="after_sales_followup: days after the complaint/return/ticket (1 = yesterday)."
    )
    win_back_min_days: int = Field(
        60, ge=1, description="win_back: lapsed after at least this many days without an occasion..."
    )
    win_back_cycle_multiple: float = Field(
        2.0, gt=0, description="...and at least this multiple of the customer's avg_days_between_occasions."
    )
    win_back_cooldown_days: int = Field(
        90, ge=1, description="win_back: no second win-back (either variant) within this many days."
    )
    win_back_high_value_revenue: float = Field(
        1000.0, ge=0, description="win_back: lifetime net revenue from which a lapsed customer gets "
        "the win_back_high_value variant.",
    )
    surprise_reward_probability: float = Field(
        0.05, ge=0, le=1, description="surprise_reward: daily draw probability (md5 of customer and date)."
    )
    surprise_reward_recent_days: int = Field(
        90, ge=1, description="surprise_reward: the customer has an occasion in this many days."
    )
    surprise_reward_min_gap_days: int = Field(
        30, ge=1, description="surprise_reward: at least this many days between two rewards."
    )
    surprise_reward_segments: list[str] = Field(
        ["Champions", "Loyal Customers"], description="surprise_reward: RFM segments eligible."
    )
    abandoned_checkout_after_days: int = Field(
        1, ge=1, description="abandoned_checkout: days after the checkout_started / add_to_cart "
        "(1 = yesterday)."
    )
    delivery_apology_late_days: int = Field(
        2, ge=0, description="delivery_apology: delivered yesterday more than this many days after "
        "the promised date."
    )
    delivery_apology_slow_percentile: float = Field(
        0.9, gt=0, lt=1, description="delivery_apology: without a promised date, delivered yesterday "
        "in more days than this quantile of the shop's delivery days."
    )
    delivery_apology_lost_after_days: int = Field(
        10, ge=1, description="delivery_apology: shipped and still not delivered this many days later."
    )
    abandoned_checkout_repeat_days: int = Field(
        14, ge=1, description="abandoned_checkout: no second reminder within this many days."
    )
    # --- activation: outputs ------------------------------------------------------------------
    lift_attribution_days: int = Field(
        30, ge=1, description="campaign_lift: a repurchase counts within this many days after the trigger."
    )
    churner_risk_bands: list[str] = Field(
        ["high"], description="segment_members: churn_risk bands exported as 'predicted_churners'."
    )
    export_escape_formulas: bool = Field(
        True, description="CRM and segment CSVs: a text cell starting with =, +, -, @, tab or CR "
        "(a spreadsheet formula) gets a leading ' so that it opens as inert text (OWASP CSV "
        "injection advice); a plain number or phone number is left as it is.",
    )
    private_files_group_readable: bool = Field(
        False, description="Files with personal data (warehouse, exports, serving copies with "
        "personal data) are created 0600 in folders 0700; true: 0640 / 0750, for the group.",
    )

    # --- predictions (docs/predictions.md) ------------------------------------------------------
    prediction_time_unit_days: float = Field(
        7.0, gt=0, description="Time unit of the BG/NBD fit in days (7 = weeks, as in the published "
        "CDNOW estimates; alpha in marts.model_fit is per this unit).",
    )
    model_refit_days: int = Field(
        7, ge=1, description="The purchase and spend models (and the backtest that chooses "
        "between them) are fitted again when the newest usable fit in marts.model_fit is this many "
        "days older than the as-of date, or older; in between, every customer is still scored each "
        "day, on that day's history, with that fit's parameters. 1: fit every day. A fit made "
        "with another time unit or purchase_model is never reused (docs/predictions.md).",
    )
    min_customers_to_fit: int = Field(
        50, ge=1, description="Fewer customers with an occasion than this: no model is fitted and "
        "no predictions are written (the assets say why in their metadata).",
    )
    min_repeat_customers_to_fit: int = Field(
        10, ge=1, description="Fewer repeat customers (2+ occasions; for Gamma-Gamma: with positive "
        "spend) than this: that model is not fitted.",
    )
    clv_discount_rate_annual: float = Field(
        0.10, gt=-1, description="Annual discount rate of predicted_clv_365d (applied monthly).",
    )
    churn_risk_basis: Literal["p_alive", "p_purchase_in_horizon"] = Field(
        "p_alive",
        description="The probability churn_risk is banded on: 'p_alive' (P(alive) of the selected "
        "purchase model) or 'p_purchase_in_horizon' (P(at least one occasion within "
        "churn_risk_horizon_days), which also separates BG/NBD's one-time buyers, all alive there).",
    )
    churn_risk_horizon_days: int = Field(
        365, ge=1, description="churn_risk is read from the probability of at least one occasion "
        "within this many days after the as-of date.",
    )
    churn_risk_high_below: float = Field(
        0.3, ge=0, le=1, description="churn_risk 'high' when the churn_risk_basis probability is below this.",
    )
    churn_risk_medium_below: float = Field(
        0.6, ge=0, le=1, description="churn_risk 'medium' when it is below this (and not high); "
        "else 'low'. Must be >= churn_risk_high_below.",
    )
    backtest_calibration_end: dt.date | None = Field(
        None, description="Last day of the backtest's calibration period. None: the as-of date "
        "minus backtest_holdout_days.",
    )
    backtest_holdout_days: int = Field(
        273, ge=1, description="Length of the backtest holdout period ending on the as-of date "
        "(273 days = 39 weeks), when backtest_calibration_end is not set.",
    )
    purchase_model: Literal["auto", "bgnbd", "pareto_nbd"] = Field(
        "auto", description="Purchase model of customer_predictions: 'bgnbd', 'pareto_nbd', or "
        "'auto' (the one with the smaller holdout error in model_backtest; docs/predictions.md).",
    )
    prediction_min_customers: int = Field(
        500, ge=1, description="Fewer customers with a valid purchase than this: no predictions "
        "are published (empty tables, the reason in model_fit and the asset metadata).",
    )
    prediction_min_history_days: int = Field(
        180, ge=0, description="Fewer days from the first occasion to the as-of date than this: "
        "no predictions are published.",
    )
    prediction_min_frequent_customers: int = Field(
        10, ge=0, description="Fewer customers with 3 or more occasions than this: no predictions "
        "are published (dropout cannot be told from slow buying without them).",
    )
    cycle_min_samples: int = Field(
        30, ge=1, description="Least number of gaps between consecutive occasions with a category "
        "for an observed replenishment cycle of that category.",
    )

    # --- serving BI tools (README "Serving BI tools"): copies of the marts BI tools may open ---
    serving: Path = Field(
        DEFAULT_DATA_DIR / "serving.duckdb",
        description="DuckDB file of the marts for BI tools (readable by DuckDB 1.x), written beside "
        "the old one and moved over it after each run. The warehouse file stays the pipeline's own.",
    )
    serving_postgres_url: str | None = Field(
        None, description="PostgreSQL URL (postgresql://user@host:port/db) to publish the marts to "
        "schema `marts`, swapped in one transaction. None: not published.",
    )
    serving_postgres_reader_role: str = Field(
        "retention_reader", pattern=r"^[a-z_][a-z0-9_]*$",
        description="Role created if missing and granted read-only access to the PostgreSQL `marts`.",
    )
    serving_postgres_swap_timeout: float = Field(
        600.0, gt=0, description="Seconds the PostgreSQL swap keeps retrying while readers hold "
        "the old `marts` tables (each try waits briefly for their locks).",
    )
    serving_parquet: Path | None = Field(
        None, description="Folder for <mart>.parquet serving files, each replaced atomically. "
        "None: not published.",
    )
    serve_personal_data: bool = Field(
        False, description="Serve the columns marked `personal_data` in the dbt YAML (email, phone, "
        "names, push tokens, WeChat ids, birthday). Off: they stay in the warehouse and CRM files.",
    )

    # --- sample shop (used when no landing folder is given) ------------------------------------
    sample_customers: int = Field(5000, gt=0, description="Customers in the generated sample shop.")
    sample_seed: int = Field(42, description="Seed of the generated sample shop.")

    @field_validator("reporting_tz", "store_timezone")
    @classmethod
    def _known_time_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse_url_without_password(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("warehouse_url must be a postgresql://user@host:port/database URL")
        if parts.password:
            # a URL is logged and stored in files: the secret stays in the environment
            raise ValueError("warehouse_url must not hold a password: set PGPASSWORD instead")
        if not parts.path.strip("/"):
            raise ValueError("warehouse_url must name the database (postgresql://…/database)")
        return value

    @model_validator(mode="after")
    def _target_has_its_location(self) -> Settings:
        if self.dbt_target == "postgres" and not self.warehouse_url:
            raise ValueError("dbt_target 'postgres' needs warehouse_url (postgresql://…/database)")
        return self

    @model_validator(mode="after")
    def _nudge_window(self) -> Settings:
        if self.nudge_min_days > self.nudge_max_days:
            raise ValueError(f"nudge_min_days ({self.nudge_min_days}) > nudge_max_days "
                             f"({self.nudge_max_days})")
        return self

    @model_validator(mode="after")
    def _one_source(self) -> Settings:
        if self.source_url is not None and self.landing is not None:
            raise ValueError("set either landing (a folder of files) or source_url (a shop "
                             "database), not both")
        unknown = set(self.source_mapping) - {"customers", "products", "orders", "order_items",
                                              "events"}
        if unknown:
            raise ValueError(f"source_mapping: unknown entities {sorted(unknown)}")
        return self

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
    def effective_duckdb_temp_directory(self) -> Path:
        if self.duckdb_temp_directory is not None:
            return self.duckdb_temp_directory
        return Path(self.warehouse).parent / "duckdb_tmp"

    def duckdb_config(self) -> dict[str, str]:
        """The DuckDB session settings of every pipeline connection (and dbt's, via env vars)."""
        return {
            "memory_limit": self.duckdb_memory_limit,
            "threads": str(self.duckdb_threads),
            "temp_directory": str(self.effective_duckdb_temp_directory.resolve()),
        }

    @property
    def effective_landing(self) -> Path:
        return self.landing if self.landing is not None else DEFAULT_DATA_DIR / "landing"

    def dbt_vars(self, as_of: dt.date) -> dict[str, Any]:
        """The dbt vars every model reads (see dbt_project/dbt_project.yml)."""
        return {
            "as_of": as_of.isoformat(),
            "reporting_tz": self.reporting_tz,
            "min_order_value": self.min_order_value,
            "cycle_min_samples": self.cycle_min_samples,  # models/predictions/replenishment_cycles
            # the backtest's calibration end (models/predictions, macros/prediction_periods.sql)
            "backtest_holdout_days": self.backtest_holdout_days,
            "backtest_calibration_end": (
                self.backtest_calibration_end.isoformat() if self.backtest_calibration_end else None
            ),
            **{name: getattr(self, name) for name in ACTIVATION_DBT_VARS},
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
        if _has_password(data.get("source_url")):
            raise ValueError(f"{path}: source_url holds a password; a config file must not: set "
                             f"{SOURCE_PASSWORD_ENV} in the environment instead")
        return data


def _has_password(url: Any) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not isinstance(url, str):
        return False
    try:
        return make_url(url).password is not None
    except (ArgumentError, ValueError):  # an unparseable URL is reported when it is opened
        return False


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
