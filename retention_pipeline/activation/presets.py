"""The contact policy in force: the seed rows of the configured preset, as temp tables.

Seeds (dbt_project/seeds/contact_policy_*.csv, schema `seeds`) hold every preset; the setting
`contact_policy_preset` picks one. Loading validates the rows so that a typo in an edited seed
stops the run with a message instead of silently sending nothing (or too much).

Temp tables made here, read by the policy:
- `policy_campaigns`          enabled campaigns: category (fixed in code), priority, cooldown,
                              control share and send hour (seed, else setting; hour clamped),
                              daily volume cap (null = none)
- `policy_campaign_channels`  campaign × channel in preference order (channel_rank 1 first)
- `policy_caps`               channel × window_days × max_sends
- `policy_consent_free`       channels service messages may use without marketing consent
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from retention_pipeline.activation.campaigns import CAMPAIGN_CATEGORY
from retention_pipeline.activation.sqlutil import relation_exists
from retention_pipeline.settings import Settings

SEED_PRESETS = "seeds.contact_policy_presets"
SEED_CAMPAIGNS = "seeds.contact_policy_campaigns"
SEED_CAPS = "seeds.contact_policy_caps"
CHANNELS = ("email", "sms", "push", "wechat")


class PolicyError(ValueError):
    """The contact-policy seeds are missing or inconsistent."""


@dataclass(frozen=True)
class Policy:
    preset: str
    earliest_send_hour: int
    latest_send_hour: int
    campaigns: tuple[str, ...]  # enabled campaigns, in priority order


def load_policy(con: duckdb.DuckDBPyConnection, settings: Settings) -> Policy:
    for seed in (SEED_PRESETS, SEED_CAMPAIGNS, SEED_CAPS):
        if not relation_exists(con, seed):
            raise PolicyError(f"{seed} does not exist: load the contact-policy seeds (`dbt seed`).")
    preset = settings.contact_policy_preset
    row = con.execute(
        f"select earliest_send_hour, latest_send_hour, consent_free_service_channels "
        f"from {SEED_PRESETS} where preset = ?",
        [preset],
    ).fetchone()
    if row is None:
        known = [r[0] for r in con.execute(f"select preset from {SEED_PRESETS} order by 1").fetchall()]
        raise PolicyError(f"contact_policy_preset {preset!r} is not in {SEED_PRESETS} (known: {known})")
    earliest, latest, consent_free = row
    if not (0 <= earliest <= latest <= 23):
        raise PolicyError(f"preset {preset!r}: need 0 <= earliest_send_hour <= latest_send_hour <= 23")
    _check_names(con, preset)
    _create_tables(con, settings, preset, earliest, latest, consent_free or "")
    enabled = tuple(
        r[0] for r in con.execute(
            "select campaign from policy_campaigns order by priority, campaign"
        ).fetchall()
    )
    return Policy(preset, int(earliest), int(latest), enabled)


def _check_names(con: duckdb.DuckDBPyConnection, preset: str) -> None:
    campaigns = [r[0] for r in con.execute(
        f"select campaign from {SEED_CAMPAIGNS} where preset = ? order by 1", [preset]
    ).fetchall()]
    unknown = sorted(set(campaigns) - set(CAMPAIGN_CATEGORY))
    duplicated = sorted({c for c in campaigns if campaigns.count(c) > 1})
    channels = {r[0] for r in con.execute(
        f"""select distinct trim(unnest(string_split(channels, '|'))) from {SEED_CAMPAIGNS}
            where preset = ? union select channel from {SEED_CAPS} where preset = ?""",
        [preset, preset],
    ).fetchall()}
    bad_channels = sorted(channels - set(CHANNELS), key=str)
    problems = []
    if unknown:
        problems.append(f"unknown campaign(s) {unknown}")
    if duplicated:
        problems.append(f"campaign(s) listed twice {duplicated}")
    if bad_channels:
        problems.append(f"unknown channel(s) {bad_channels} (known: {list(CHANNELS)})")
    if problems:
        raise PolicyError(f"contact-policy seeds, preset {preset!r}: " + "; ".join(problems))


def _create_tables(con, settings: Settings, preset: str, earliest: int, latest: int, consent_free: str):
    categories = ", ".join(f"('{name}', '{category}')" for name, category in CAMPAIGN_CATEGORY.items())
    con.execute(
        f"""
        create or replace temp table policy_campaigns as
        select
            s.campaign,
            k.category,
            s.priority,
            coalesce(s.cooldown_days, 0) as cooldown_days,
            coalesce(s.control_share, $control_share) as control_share,
            -- the allowed hours win over any configured send hour
            least(greatest(coalesce(s.send_hour, $send_hour), $earliest), $latest) as send_hour,
            s.daily_volume_cap  -- null: no cap
        from {SEED_CAMPAIGNS} as s
        join (values {categories}) as k(campaign, category) on k.campaign = s.campaign
        where s.preset = $preset and coalesce(s.enabled, false)
        """,
        {"control_share": settings.control_share, "send_hour": settings.send_hour,
         "earliest": earliest, "latest": latest, "preset": preset},
    )
    con.execute(
        f"""
        create or replace temp table policy_campaign_channels as
        with listed as (
            select s.campaign, string_split(s.channels, '|') as channel_list
            from {SEED_CAMPAIGNS} as s
            join policy_campaigns as p on p.campaign = s.campaign
            where s.preset = ?
        ),
        ranked as (
            select
                campaign,
                trim(unnest(channel_list)) as channel,
                unnest(range(1, len(channel_list) + 1)) as channel_rank
            from listed
        )
        -- a channel listed twice keeps its first position
        select campaign, channel, min(channel_rank) as channel_rank
        from ranked
        group by campaign, channel
        """,
        [preset],
    )
    con.execute(
        f"""
        create or replace temp table policy_caps as
        select channel, window_days, max_sends from {SEED_CAPS} where preset = ?
        """,
        [preset],
    )
    con.execute(
        """
        create or replace temp table policy_consent_free as
        select distinct trim(channel) as channel
        from (select unnest(string_split(?, '|')) as channel)
        where trim(channel) <> ''
        """,
        [consent_free],
    )
