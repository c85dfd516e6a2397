"""The campaigns of docs/metrics.md#campaigns: one SQL rule per file, its parameters from the
settings.

A rule selects today's candidates from the marts and returns one row per candidate:
`customer_id`, `campaign`, `dedupe_key`, `context` (JSON text the message needs). The dedupe key
says what "once" means for the campaign (once per customer, per purchase, per product, per event,
per year); `repeat_after_days` (None = never) says when the same key may come again (win-back
after 90 days, surprise reward 30 days apart). The contact policy decides the rest.

Whether a campaign is service or marketing is part of the contract, fixed here, not in a seed:
a service message may skip marketing consent and caps, so it must not be configurable by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retention_pipeline.activation import inputs
from retention_pipeline.activation.contact_log import CONTACT_LOG
from retention_pipeline.settings import Settings

SERVICE = "service"
MARKETING = "marketing"

CAMPAIGN_CATEGORY: dict[str, str] = {
    "first_purchase_thanks": SERVICE,
    "second_purchase_nudge": MARKETING,
    "replenishment": MARKETING,
    "birthday": MARKETING,
    "vip_early_access": MARKETING,
    "new_arrival": MARKETING,
    "after_sales_followup": SERVICE,
    "win_back": MARKETING,
    "win_back_high_value": MARKETING,
    "surprise_reward": MARKETING,
    "abandoned_checkout": MARKETING,
    "delivery_apology": SERVICE,
}

SQL_DIR = Path(__file__).resolve().parent

# What the rules share, as DuckDB table macros (one definition, called from several rules):
# - activation_logged_keys(campaign, as_of): the dedupe keys already queued or held out for each
#   customer on an earlier day ("had" the message: control and treated repeat alike);
# - activation_announced(campaign, as_of): the products such keys name, for the rules whose key is
#   '<campaign>:<product_id>[,<product_id>...]' (new_arrival, vip_early_access).
MACROS = f"""
create or replace temp macro activation_logged_keys(campaign_name, as_of) as table
    select distinct customer_id, dedupe_key
    from {CONTACT_LOG}
    where campaign = campaign_name and as_of_date < as_of and state in ('queued', 'holdout');
create or replace temp macro activation_announced(campaign_name, as_of) as table
    select distinct
        customer_id,
        unnest(string_split(substr(dedupe_key, length(campaign_name) + 2), ',')) as product_id
    from activation_logged_keys(campaign_name, as_of);
"""


@dataclass(frozen=True)
class CampaignRule:
    """One SQL rule (`<name>.sql`) proposing candidates for one or more campaigns."""

    name: str
    campaigns: tuple[str, ...]
    params: Callable[[Settings], dict[str, Any]]
    repeat_after_days: Callable[[Settings], int | None] = lambda settings: None
    requires: tuple[str, ...] = ()  # optional inputs without which the rule proposes nobody

    @property
    def sql_path(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"


RULES: tuple[CampaignRule, ...] = (
    CampaignRule(
        "first_purchase_thanks", ("first_purchase_thanks",),
        lambda s: {"thanks_after_days": s.thanks_after_days},
    ),
    CampaignRule(
        "second_purchase_nudge", ("second_purchase_nudge",),
        lambda s: {"nudge_min_days": s.nudge_min_days, "nudge_max_days": s.nudge_max_days},
    ),
    CampaignRule(
        "replenishment", ("replenishment",),
        lambda s: {"days_before_due": s.replenishment_days_before_due,
                   "days_after_due": s.replenishment_days_after_due},
        requires=(inputs.CYCLES, inputs.ORDER_ITEMS, inputs.PRODUCTS),
    ),
    CampaignRule("birthday", ("birthday",), lambda s: {}),
    CampaignRule(
        "vip_early_access", ("vip_early_access",),
        lambda s: {"vip_lead_days": s.vip_lead_days, "vip_tiers": list(s.vip_tiers),
                   "vip_segments": list(s.vip_segments)},
        requires=(inputs.PRODUCTS,),
    ),
    CampaignRule(
        "new_arrival", ("new_arrival",),
        lambda s: {"launch_days": s.new_arrival_launch_days,
                   "lookback_days": s.new_arrival_lookback_days},
        requires=(inputs.PRODUCTS, inputs.ORDER_ITEMS),
    ),
    CampaignRule(
        "after_sales_followup", ("after_sales_followup",),
        lambda s: {"followup_after_days": s.followup_after_days},
        requires=(inputs.EVENTS,),
    ),
    CampaignRule(
        "win_back", ("win_back", "win_back_high_value"),
        lambda s: {"min_days": s.win_back_min_days, "cycle_multiple": s.win_back_cycle_multiple,
                   "high_value_revenue": s.win_back_high_value_revenue},
        repeat_after_days=lambda s: s.win_back_cooldown_days,
    ),
    CampaignRule(
        "surprise_reward", ("surprise_reward",),
        lambda s: {"probability": s.surprise_reward_probability,
                   "recent_days": s.surprise_reward_recent_days,
                   "segments": list(s.surprise_reward_segments)},
        repeat_after_days=lambda s: s.surprise_reward_min_gap_days,
    ),
    CampaignRule(
        "abandoned_checkout", ("abandoned_checkout",),
        lambda s: {"abandoned_after_days": s.abandoned_checkout_after_days},
        repeat_after_days=lambda s: s.abandoned_checkout_repeat_days,
        requires=(inputs.EVENTS,),
    ),
    CampaignRule(
        "delivery_apology", ("delivery_apology",),
        lambda s: {"late_days": s.delivery_apology_late_days,
                   "slow_percentile": s.delivery_apology_slow_percentile,
                   "lost_after_days": s.delivery_apology_lost_after_days},
        requires=(inputs.DELIVERIES,),
    ),
)


def validate_settings(settings: Settings) -> None:
    """Cross-field checks the settings model does not make."""
    if settings.nudge_min_days > settings.nudge_max_days:
        raise ValueError(
            f"nudge_min_days ({settings.nudge_min_days}) > nudge_max_days ({settings.nudge_max_days})"
        )


def propose(con, settings: Settings, as_of, enabled: tuple[str, ...]) -> dict[str, str]:
    """Run the rules of the enabled campaigns into temp table `activation_proposals`.

    Needs `activation_purchases` (inputs.build_purchases), the `activation_bucket` macro
    (control_group.install_macros) and the contact log (contact_log.ensure_table). Returns the
    enabled campaigns that could not run, with why.
    """
    from retention_pipeline.activation.sqlutil import execute, read_sql

    validate_settings(settings)
    con.execute(MACROS)
    con.execute("""
        create or replace temp table activation_proposals (
            customer_id varchar, campaign varchar, dedupe_key varchar, context varchar,
            repeat_after_days integer
        )
    """)
    common = {"as_of": as_of, "reporting_tz": settings.reporting_tz}
    skipped: dict[str, str] = {}
    for rule in RULES:
        wanted = [c for c in rule.campaigns if c in enabled]
        if not wanted:
            continue
        missing = [r for r in rule.requires if not inputs.available(con, r)]
        if missing:
            skipped.update({c: "missing input " + ", ".join(missing) for c in wanted})
            continue
        execute(
            con,
            f"""
            insert into activation_proposals
            select customer_id, campaign, dedupe_key, context,
                   cast($repeat_after_days as integer)
            from (
                {read_sql(rule.sql_path)}
            ) as rule
            where customer_id is not null and list_contains($campaigns, campaign)
            """,
            {**common, **rule.params(settings), "campaigns": wanted,
             "repeat_after_days": rule.repeat_after_days(settings)},
        )
    # an integer id for the policy's joins (its value means nothing and may differ per run)
    con.execute("""
        create or replace temp table activation_proposals as
        select row_number() over () as candidate_id, * from activation_proposals
    """)
    duplicates = con.execute("""
        select campaign, customer_id, dedupe_key from activation_proposals
        group by all having count(*) > 1 limit 5
    """).fetchall()
    if duplicates:
        raise RuntimeError(f"a campaign rule proposed the same candidate twice: {duplicates}")
    return skipped
