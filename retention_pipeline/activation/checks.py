"""Blocking checks in front of the exports: each one recomputes a promise of the contact policy
from the sources (staging customers and events, the seeds, the contact log), independently of the
policy's own temp tables, and lists the candidates that break it. Any failure stops the exports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from retention_pipeline.activation import contact_log, inputs, presets
from retention_pipeline.activation.campaigns import CAMPAIGN_CATEGORY, MARKETING, RULES
from retention_pipeline.activation.policy import SUPPRESSION_REASONS
from retention_pipeline.activation.quiet_hours import store_timezone
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings

CANDIDATES = contact_log.CANDIDATES
SAMPLE_ROWS = 5


@dataclass
class CheckResult:
    name: str
    description: str
    failing_rows: int
    sample: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    sql: str  # selects the failing rows


def _marketing_list() -> str:
    return "[" + ", ".join(f"'{c}'" for c, k in CAMPAIGN_CATEGORY.items() if k == MARKETING) + "]"


def _consent_sql(with_events: bool) -> str:
    consent = """
        coalesce(case c.channel when 'email' then s.accepts_email when 'sms' then s.accepts_sms
                                when 'push' then s.accepts_push when 'wechat' then s.accepts_wechat
                 end, false)
    """
    if with_events:
        consent += f"""
        and not exists (
            select 1 from {inputs.EVENTS} as e
            where e.event_type = 'unsubscribe'
              and e.customer_id = c.customer_id
              and coalesce(nullif(lower(trim(json_extract_string(e.properties, '$.channel'))), ''),
                           'all') in (c.channel, 'all')
              and (coalesce(s.updated_at, s.created_at) is null
                   or e.occurred_at > coalesce(s.updated_at, s.created_at))
        )
        """
    return f"""
        select c.customer_id, c.campaign, c.channel, c.state
        from {CANDIDATES} as c
        left join {inputs.CUSTOMERS} as s on s.customer_id = c.customer_id
        where c.state = 'queued'
          and (
              s.customer_id is null
              or not (
                  ({consent})
                  -- service (fixed in code, not by the row's own label) may use a consent-free
                  -- channel
                  or (not list_contains({_marketing_list()}, c.campaign)
                      and list_contains(string_split($consent_free, '|'), c.channel))
              )
          )
    """


def _checks(with_events: bool) -> list[Check]:
    return [
        Check(
            "no_send_without_consent",
            "Every queued message has the recipient's consent for its channel (accepts_* and no "
            "later unsubscribe), except service messages on a consent-free channel.",
            _consent_sql(with_events),
        ),
        Check(
            "queued_sends_have_the_customers_address",
            "Every queued message carries the customer's current address for its channel.",
            f"""
            select c.customer_id, c.campaign, c.channel
            from {CANDIDATES} as c
            left join {inputs.CUSTOMERS} as s on s.customer_id = c.customer_id
            where c.state = 'queued'
              and (
                  c.address is null
                  or c.address is distinct from nullif(trim(case c.channel
                      when 'email' then s.email when 'sms' then s.phone
                      when 'push' then s.push_token when 'wechat' then s.wechat_openid end), '')
              )
            """,
        ),
        Check(
            "at_most_one_marketing_message_per_customer_per_day",
            "No customer has more than one queued marketing message on the as-of date.",
            f"""
            select customer_id, count(*) as marketing_messages, list(campaign order by campaign) as campaigns
            from {CANDIDATES}
            where state = 'queued' and list_contains({_marketing_list()}, campaign)
            group by customer_id
            having count(*) > 1
            """,
        ),
        Check(
            "no_send_inside_quiet_hours",
            "Every queued or held-out message is scheduled on the as-of date between the preset's "
            "earliest and latest hour, local to the recipient's time zone (else the store's).",
            f"""
            with timed as (
                select
                    c.customer_id, c.campaign, c.recipient_timezone, c.send_at_utc,
                    case when s.timezone in (select name from pg_timezone_names())
                         then s.timezone else $store_tz end as expected_timezone,
                    timezone(c.recipient_timezone, timezone('UTC', c.send_at_utc)) as local_time
                from {CANDIDATES} as c
                left join {inputs.CUSTOMERS} as s on s.customer_id = c.customer_id
                where c.state in ('queued', 'holdout')
            )
            select customer_id, campaign, recipient_timezone, send_at_utc, local_time
            from timed
            where send_at_utc is null
               or recipient_timezone is distinct from expected_timezone
               or cast(local_time as date) <> $as_of
               or hour(local_time) < $earliest
               or local_time > cast($as_of as timestamp) + to_hours(cast($latest as bigint))
            """,
        ),
        Check(
            "holdouts_never_sent",
            "The control group (md5 of customer and campaign below the campaign's control share) "
            "is never queued, and only it is held out.",
            f"""
            with shares as (
                select campaign, coalesce(control_share, $control_share) as control_share
                from {presets.SEED_CAMPAIGNS} where preset = $preset
            )
            select c.customer_id, c.campaign, c.state
            from {CANDIDATES} as c
            join shares as s on s.campaign = c.campaign
            where c.state in ('queued', 'holdout')
              and (c.state = 'holdout') <> (
                  cast(('0x' || substr(md5(c.customer_id || '|' || c.campaign), 1, 8)) as ubigint)
                  / 4294967296.0 < s.control_share
              )
            """,
        ),
        Check(
            "frequency_caps_respected",
            "With today's queued marketing messages, no customer exceeds a cap of the preset "
            "(channel x window) counting queued marketing messages of the contact log.",
            f"""
            with today as (
                select customer_id, channel from {CANDIDATES}
                where state = 'queued' and list_contains({_marketing_list()}, campaign)
            ),
            caps as (
                select channel, window_days, max_sends
                from {presets.SEED_CAPS} where preset = $preset
            )
            select t.customer_id, t.channel, k.window_days, k.max_sends,
                   1 + count(h.customer_id) as sends_in_window
            from today as t
            join caps as k on k.channel = t.channel
            left join {contact_log.CONTACT_LOG} as h
                on h.customer_id = t.customer_id
                and h.channel = t.channel
                and h.state = 'queued'
                and list_contains({_marketing_list()}, h.campaign)
                and h.as_of_date < $as_of
                and h.as_of_date > $as_of - k.window_days
            group by all
            having 1 + count(h.customer_id) > k.max_sends
            """,
        ),
        Check(
            "daily_volume_caps_respected",
            "No campaign sends or holds out more candidates on the as-of date than its seed's "
            "daily_volume_cap.",
            f"""
            select c.campaign, s.daily_volume_cap, count(*) as sent_or_held_out
            from {CANDIDATES} as c
            join {presets.SEED_CAMPAIGNS} as s
                on s.campaign = c.campaign and s.preset = $preset
            where c.state in ('queued', 'holdout') and s.daily_volume_cap is not null
            group by all
            having count(*) > s.daily_volume_cap
            """,
        ),
        Check(
            "no_duplicate_send",
            "Nothing queued today repeats a message (same customer and dedupe key) queued or held "
            "out on an earlier day, unless the campaign's repeat window has passed.",
            f"""
            with repeat_windows as (
                select * from (values {_repeat_values()}) as r(campaign, repeat_after_days)
            )
            select c.customer_id, c.campaign, c.dedupe_key, max(h.as_of_date) as logged_on
            from {CANDIDATES} as c
            join repeat_windows as r on r.campaign = c.campaign
            join {contact_log.CONTACT_LOG} as h
                on h.customer_id = c.customer_id
                and h.dedupe_key = c.dedupe_key
                and h.state in ('queued', 'holdout')
                and h.as_of_date < $as_of
            where c.state = 'queued'
              and (r.repeat_after_days is null or h.as_of_date > $as_of - r.repeat_after_days)
            group by all
            """,
        ),
        Check(
            "one_state_and_reason_per_candidate",
            "Every candidate appears once (customer, campaign, dedupe key) for the as-of date, "
            "in exactly one state with its reason; queued and held-out rows have a channel and "
            "send time, suppressed rows have neither.",
            f"""
            select customer_id, campaign, dedupe_key, 'listed twice' as problem
            from {CANDIDATES}
            group by customer_id, campaign, dedupe_key
            having count(*) > 1
            union all
            select customer_id, campaign, dedupe_key, 'state, reason or fields inconsistent'
            from {CANDIDATES}
            where not coalesce(
                (state = 'queued' and reason = 'eligible' and channel is not null
                    and address is not null and send_at_utc is not null)
                or (state = 'holdout' and reason = 'control_group' and channel is not null
                    and address is null and send_at_utc is not null)
                or (state = 'suppressed' and list_contains({list(SUPPRESSION_REASONS)}, reason)
                    and channel is null and address is null and send_at_utc is null),
                false)
            union all
            select customer_id, campaign, dedupe_key, 'decided for another day'
            from {CANDIDATES}
            where as_of_date <> $as_of
            """,
        ),
    ]


def _repeat_values() -> str:
    return ", ".join(
        f"('{campaign}', $repeat_{campaign}::integer)" for rule in RULES for campaign in rule.campaigns
    )


def run_checks(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date
) -> list[CheckResult]:
    """Run every check on marts.campaign_candidates for `as_of`."""
    with_events = inputs.available(con, inputs.EVENTS)
    preset = con.execute(
        f"select earliest_send_hour, latest_send_hour, consent_free_service_channels "
        f"from {presets.SEED_PRESETS} where preset = ?",
        [settings.contact_policy_preset],
    ).fetchone()
    if preset is None:
        raise presets.PolicyError(f"preset {settings.contact_policy_preset!r} not in the seeds")
    contact_log.ensure_table(con)
    params = {
        "as_of": as_of,
        "preset": settings.contact_policy_preset,
        "control_share": settings.control_share,
        "store_tz": store_timezone(settings),
        "earliest": preset[0],
        "latest": preset[1],
        "consent_free": preset[2] or "",
        **{
            f"repeat_{campaign}": rule.repeat_after_days(settings)
            for rule in RULES for campaign in rule.campaigns
        },
    }
    results = []
    for check in _checks(with_events):
        failing = execute(con, f"select count(*) from ({check.sql})", params).fetchone()[0]
        sample: list[dict] = []
        if failing:
            cursor = execute(con, f"select * from ({check.sql}) limit {SAMPLE_ROWS}", params)
            names = [d[0] for d in cursor.description]
            sample = [dict(zip(names, map(str, row))) for row in cursor.fetchall()]
        results.append(CheckResult(check.name, check.description, int(failing), sample))
    return results



CHECK_DESCRIPTIONS = {check.name: check.description for check in _checks(with_events=True)}
