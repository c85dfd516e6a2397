"""The activation models (the second dbt step) hang under the first step's models and seeds and
under the Python predictions by asset key, share the daily partitions, and their settings have the
documented defaults (also in dbt_project.yml, for a dbt build by hand)."""

import ast
import datetime as dt
import re
import warnings

import dagster as dg

from retention_pipeline.assets.activation import (
    CANDIDATES_KEY,
    EXPORTS_KEY,
    build_activation_assets,
)
from retention_pipeline.assets.dbt import (
    AFTER_PREDICTIONS,
    build_dbt_assets,
    dbt_project,
    dbt_resource,
    prepare_manifest,
)
from retention_pipeline.assets.predictions import build_prediction_assets
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import ACTIVATION_DBT_VARS, Settings, load_settings


def test_candidates_depend_on_the_dbt_models_and_the_policy_seeds():
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    settings = load_settings()
    partitions = daily_partitions(settings)
    project = prepare_manifest(dbt_project())
    defs = dg.Definitions(
        assets=[
            build_dbt_assets(settings, partitions, project, name="dbt_models",
                             exclude=AFTER_PREDICTIONS),
            build_dbt_assets(settings, partitions, project, name="dbt_after_predictions",
                             select=AFTER_PREDICTIONS),
            *build_prediction_assets(settings, partitions),
            *build_activation_assets(settings, partitions),
        ],
        resources={"dbt": dbt_resource(project)},
    )
    graph = defs.resolve_asset_graph()
    parents = graph.get(CANDIDATES_KEY).parent_keys
    dbt_built = {
        key for key in parents if graph.has(key) and graph.get(key).is_materializable
    }
    for key in (["marts", "fct_orders"], ["staging", "stg_shop__customers"],
                ["seeds", "contact_policy_campaigns"], ["seeds", "contact_policy_caps"],
                ["seeds", "contact_policy_presets"], ["seeds", "time_zones"],
                # the Python prediction fits, through the sources of _python_marts.yml
                ["marts", "customer_predictions"], ["marts", "replenishment_cycles"]):
        assert dg.AssetKey(key) in dbt_built, key
    # the two dbt steps: phase 1 never holds an activation model, phase 2 nothing else
    assert defs.get_assets_def(CANDIDATES_KEY).node_def.name == "dbt_after_predictions"
    assert defs.get_assets_def(dg.AssetKey(["marts", "fct_orders"])).node_def.name == "dbt_models"
    assert graph.get(EXPORTS_KEY).parent_keys >= {
        CANDIDATES_KEY, dg.AssetKey(["marts", "contact_log"]), dg.AssetKey(["marts", "segment_members"])
    }
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key


def test_activation_settings_defaults_and_env(monkeypatch):
    settings = load_settings()
    assert settings.contact_policy_preset == "daily_use"
    assert settings.control_share == 0.10
    assert (settings.nudge_min_days, settings.nudge_max_days) == (30, 37)
    assert (settings.replenishment_days_before_due, settings.replenishment_days_after_due) == (3, 7)
    assert (settings.win_back_min_days, settings.win_back_cycle_multiple,
            settings.win_back_cooldown_days) == (60, 2.0, 90)
    assert (settings.surprise_reward_probability, settings.surprise_reward_recent_days,
            settings.surprise_reward_min_gap_days) == (0.05, 90, 30)
    assert settings.store_timezone is None
    monkeypatch.setenv("RETENTION_VIP_TIERS", '["Platinum"]')
    monkeypatch.setenv("RETENTION_STORE_TIMEZONE", "Asia/Shanghai")
    settings = load_settings()
    assert settings.vip_tiers == ["Platinum"]
    assert settings.store_timezone == "Asia/Shanghai"


def test_dbt_defaults_are_the_settings_defaults():
    """A hand-made `dbt build` (no run values passed) falls back to the defaults written in the
    models' run_var(...) calls: they must be the settings' own defaults."""
    written: dict[str, object] = {}
    sources = [*(DBT_PROJECT_DIR / "models" / "activation").rglob("*.sql"),
               *(DBT_PROJECT_DIR / "tests" / "activation").rglob("*.sql"),
               DBT_PROJECT_DIR / "macros" / "activation.sql"]
    for path in sources:
        for name, default in RUN_VAR_CALL.findall(path.read_text()):
            value = ast.literal_eval(default.replace("none", "None"))
            assert written.setdefault(name, value) == value, f"{name}: two defaults ({path.name})"
    defaults = Settings().dbt_vars(dt.date(2026, 3, 10))
    assert set(written) >= set(ACTIVATION_DBT_VARS)
    assert {name: written[name] for name in ACTIVATION_DBT_VARS} == {
        name: defaults[name] for name in ACTIVATION_DBT_VARS}


RUN_VAR_CALL = re.compile(r"""run_var\(\s*['"](\w+)['"]\s*,\s*([^()]+?|\[[^\]]*\])\s*\)""")
