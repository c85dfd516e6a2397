"""The contact-policy decision: every candidate of the day ends in exactly one state.

Order of the decision (the first rule that stops a candidate gives its reason):
1. `unknown_customer`  the customer is not in staging customers (no profile, no consent);
2. `already_sent` / `cooldown`  repetition rule or seed cooldown (cooldowns.py);
3. channel: among the campaign's channels that pass consent, address and caps (consent.py,
   caps.py), the one the customer engaged with most over the last 180 days (engagement.py); a tie
   keeps the campaign's preference order. None passes: `no_consent` when no channel has consent,
   else `no_address` when no consented channel has an address, else `frequency_cap`;
4. `daily_volume`  the campaign's optional daily volume cap: its candidates beyond the cap, in order
   of predicted CLV then customer_id, wait (volume.py);
5. `daily_marketing_limit`  one marketing message per customer per day: the candidate with the
   lowest priority number wins, then the campaign name, then the dedupe key (deterministic);
   service messages are exempt;
6. `holdout` / `control_group`  the campaign's stable control group (control_group.py) among
   those who would be sent, so treated and control are alike; a holdout keeps its slot (the
   customer gets nothing else that day, like a treated customer would);
7. `queued` / `eligible`  sent at send_at (quiet_hours.py).

Result: `marts.campaign_candidates`, the decisions of the as-of date (replaced by every run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from retention_pipeline.activation import (
    campaigns,
    caps,
    consent,
    contact_log,
    control_group,
    cooldowns,
    engagement,
    inputs,
    presets,
    quiet_hours,
    volume,
)
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings

CANDIDATES = contact_log.CANDIDATES
STATES = ("queued", "holdout", "suppressed")
SUPPRESSION_REASONS = (
    "unknown_customer", "already_sent", "cooldown", "no_consent", "no_address", "frequency_cap",
    "daily_volume", "daily_marketing_limit",
)


@dataclass
class Decision:
    as_of: dt.date
    preset: str
    enabled: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # campaign -> why it proposed nobody
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (campaign, state) -> rows

    def total(self, state: str) -> int:
        return sum(n for (_, s), n in self.counts.items() if s == state)


def decide(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date) -> Decision:
    """Run the campaigns and the contact policy for `as_of` into marts.campaign_candidates."""
    inputs.check_required(con, {inputs.DIM_CUSTOMERS, inputs.FCT_ORDERS, inputs.CUSTOMERS})
    contact_log.ensure_table(con)
    control_group.install_macros(con)
    quiet_hours.install(con)
    policy = presets.load_policy(con, settings)
    inputs.build_purchases(con)
    consent.build_reach(con)
    quiet_hours.build_recipient_timezones(con, settings)
    skipped = campaigns.propose(con, settings, as_of, policy.campaigns)
    cooldowns.build_repeats(con, as_of)
    caps.build_capped(con, as_of)
    engagement.build_engagement(con, settings, as_of)
    volume.build_values(con)
    params = {"as_of": as_of, "store_tz": quiet_hours.store_timezone(settings)}
    for step in (_SCREEN_SQL, _CHANNEL_SQL, _DECISION_SQL):
        execute(con, step, params)
    _drop_working_tables(con)
    counts = {
        (campaign, state): int(n)
        for campaign, state, n in con.execute(
            f"select campaign, state, count(*) from {CANDIDATES} group by all order by all"
        ).fetchall()
    }
    return Decision(as_of, policy.preset, policy.campaigns, skipped, counts)


def _drop_working_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Free the memory of the day's working tables (millions of rows at scale) for what follows
    on the same connection (the checks)."""
    for table in ("activation_proposals", "activation_screened", "activation_channels",
                  "activation_repeats", "activation_capped", "activation_reach",
                  "activation_purchases", "activation_recipient_timezones",
                  "activation_engagement", "activation_values"):
        con.execute(f"drop table if exists temp.{table}")


# 1-2: the candidate with its campaign's policy, the recipient, and the reasons that stop it
# before any channel is looked at.
_SCREEN_SQL = f"""
create or replace temp table activation_screened as
select
    p.candidate_id, p.customer_id, p.campaign, p.dedupe_key,
    c.category, c.priority, c.control_share, c.send_hour, c.daily_volume_cap,
    k.first_name,
    k.language,
    coalesce(z.recipient_timezone, $store_tz) as recipient_timezone,
    case when k.customer_id is null then 'unknown_customer' else r.reason end as early_reason
from activation_proposals as p
join policy_campaigns as c on c.campaign = p.campaign
left join {inputs.CUSTOMERS} as k on k.customer_id = p.customer_id
left join activation_recipient_timezones as z on z.customer_id = p.customer_id
left join activation_repeats as r on r.candidate_id = p.candidate_id
"""

# 3: the channel, per customer and campaign (it depends on nothing else, so the work follows the
# customers reached, not the number of products or events proposing them).
_CHANNEL_SQL = """
create or replace temp table activation_channels as
with pairs as (
    select distinct customer_id, campaign, category
    from activation_screened
    where early_reason is null
),
options as (
    select
        s.customer_id, s.campaign,
        ch.channel, ch.channel_rank,
        reach.address,
        coalesce(case when s.category = 'service' then reach.service_ok else reach.marketing_ok end,
                 false) as consent_ok,
        reach.address is not null as address_ok,
        s.category = 'service' or cap.customer_id is null as cap_ok,
        coalesce(e.engagements, 0) as engagements
    from pairs as s
    join policy_campaign_channels as ch on ch.campaign = s.campaign
    left join activation_reach as reach
        on reach.customer_id = s.customer_id and reach.channel = ch.channel
    left join activation_capped as cap
        on cap.customer_id = s.customer_id and cap.channel = ch.channel
    left join activation_engagement as e
        on e.customer_id = s.customer_id and e.channel = ch.channel
),
chosen as (
    select
        customer_id, campaign,
        -- most engaged first, then the campaign's order (lists compare element by element)
        arg_min(channel, [-engagements, channel_rank])
            filter (where consent_ok and address_ok and cap_ok) as channel,
        arg_min(address, [-engagements, channel_rank])
            filter (where consent_ok and address_ok and cap_ok) as address,
        bool_or(consent_ok and address_ok) as reachable,
        bool_or(consent_ok) as consented
    from options
    group by customer_id, campaign
)
select
    customer_id, campaign, channel, address,
    case
        when channel is not null then null
        when reachable then 'frequency_cap'
        when consented then 'no_address'
        else 'no_consent'
    end as reason
from chosen
"""

# 4-7: the daily volume cap, the daily marketing slot, the control group, the send time.
_DECISION_SQL = f"""
create or replace table {CANDIDATES} as
with reached as (
    select
        s.*,
        c.channel,
        c.address,
        coalesce(s.early_reason, c.reason) as reached_reason
    from activation_screened as s
    left join activation_channels as c
        on c.customer_id = s.customer_id and c.campaign = s.campaign
),

volume_ranked as (
    select
        r.candidate_id,
        row_number() over (
            partition by r.campaign
            order by v.predicted_clv desc nulls last, r.customer_id, r.dedupe_key
        ) as volume_rank
    from reached as r
    left join activation_values as v on v.customer_id = r.customer_id
    where r.reached_reason is null and r.daily_volume_cap is not null
),

channelled as (
    select
        r.*,
        coalesce(
            r.reached_reason,
            case when q.volume_rank > r.daily_volume_cap then 'daily_volume' end
        ) as policy_reason
    from reached as r
    left join volume_ranked as q on q.candidate_id = r.candidate_id
),

slot_winners as (
    select candidate_id
    from channelled
    where policy_reason is null and category = 'marketing'
    qualify row_number() over (
        partition by customer_id order by priority, campaign, dedupe_key
    ) = 1
),

decided as (
    select
        c.*,
        coalesce(
            c.policy_reason,
            case when c.category = 'marketing' and w.candidate_id is null
                 then 'daily_marketing_limit' end
        ) as final_reason
    from channelled as c
    left join slot_winners as w on w.candidate_id = c.candidate_id
),

bucketed as (
    select
        *,
        -- only candidates that would be sent reach the control-group draw
        case when final_reason is null
             then activation_bucket(activation_control_key(customer_id, campaign)) end
            as control_bucket
    from decided
),

stated as (
    select
        *,
        case
            when final_reason is not null then 'suppressed'
            when control_bucket < control_share then 'holdout'
            else 'queued'
        end as state
    from bucketed
)

select
    cast($as_of as date) as as_of_date,
    s.campaign,
    s.category,
    s.customer_id,
    s.dedupe_key,
    s.priority,
    s.state,
    case s.state
        when 'suppressed' then s.final_reason
        when 'holdout' then 'control_group'
        else 'eligible'
    end as reason,
    case when s.state <> 'suppressed' then s.channel end as channel,
    case when s.state = 'queued' then s.address end as address,
    s.first_name,
    s.language,
    s.recipient_timezone,
    case when s.state <> 'suppressed'
        then activation_to_utc(activation_local_send($as_of, s.send_hour), s.recipient_timezone)
    end as send_at_utc,
    case when s.state <> 'suppressed' then activation_local_send($as_of, s.send_hour) end
        as send_at_local,
    s.control_bucket,
    p.context  -- joined last: the widest column is carried through one step only
from stated as s
join activation_proposals as p using (candidate_id)
"""
