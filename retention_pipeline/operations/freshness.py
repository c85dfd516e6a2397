"""The marts' freshness policy: stale when today's morning run has not landed in time.

A mart is fresh when it was materialized since local midnight (reporting time zone) and by the
deadline `schedule_hour:schedule_minute + freshness_grace_hours`; after the deadline without such a run the UI
shows it as failing its freshness policy, on each mart's page and in the asset graph.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from retention_pipeline.settings import Settings

LAST_MINUTE_OF_DAY = 23 * 60 + 59


def marts_freshness_policy(settings: Settings) -> dg.FreshnessPolicy:
    deadline = min(
        settings.schedule_hour * 60 + settings.schedule_minute
        + round(settings.freshness_grace_hours * 60),
        LAST_MINUTE_OF_DAY,
    )
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{deadline % 60} {deadline // 60} * * *",
        # The window opens at local midnight: any run for today counts, not only the scheduled one.
        lower_bound_delta=dt.timedelta(minutes=deadline),
        timezone=settings.reporting_tz,
    )


def is_mart(key: dg.AssetKey) -> bool:
    return key.path[0] == "marts"


def with_marts_freshness(assets: list, settings: Settings) -> list:
    """The same assets, every `marts/*` one (dbt models and Python marts alike) with the policy."""
    policy = marts_freshness_policy(settings)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        return dg.apply_freshness_policy(spec, policy) if is_mart(spec.key) else spec

    return [asset.map_asset_specs(apply) for asset in assets]
