"""Repetition rules and cooldowns: temp table `activation_repeats` of proposals that must wait.

Two rules, both read the contact log of earlier days (queued and holdout rows: a held-out customer
"had" the message, so control and treated groups repeat alike):
- the campaign's own repetition rule (docs/metrics.md#contact-policy): a proposal whose dedupe key
  was already logged for the customer is `already_sent` when the key may never repeat (once per
  customer, purchase, product, event, year), or `cooldown` while inside its repeat window (win-back 90 days,
  surprise reward 30 days);
- the preset's per-campaign `cooldown_days` (seed): no second message of the same campaign to the
  same customer within that many days, whatever its key (`cooldown`).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.activation.contact_log import CONTACT_LOG
from retention_pipeline.activation.sqlutil import execute


def build_repeats(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    execute(con, f"""
        create or replace temp table activation_repeats as
        with earlier as (
            select customer_id, campaign, dedupe_key, as_of_date
            from {CONTACT_LOG}
            where as_of_date < $as_of and state in ('queued', 'holdout')
              and customer_id in (select customer_id from activation_proposals)
        ),
        last_by_key as (
            select customer_id, dedupe_key, max(as_of_date) as last_on
            from earlier group by customer_id, dedupe_key
        ),
        last_by_campaign as (
            select customer_id, campaign, max(as_of_date) as last_on
            from earlier group by customer_id, campaign
        ),
        same_key as (
            select
                p.candidate_id,
                case when p.repeat_after_days is null then 'already_sent' else 'cooldown' end as reason,
                1 as precedence
            from activation_proposals as p
            join last_by_key as k
                on k.customer_id = p.customer_id
                and k.dedupe_key = p.dedupe_key
            where p.repeat_after_days is null or k.last_on > $as_of - p.repeat_after_days
        ),
        same_campaign as (
            select p.candidate_id, 'cooldown' as reason, 2 as precedence
            from activation_proposals as p
            join policy_campaigns as c on c.campaign = p.campaign
            join last_by_campaign as l
                on l.customer_id = p.customer_id
                and l.campaign = p.campaign
            where c.cooldown_days > 0 and l.last_on > $as_of - c.cooldown_days
        )
        select candidate_id, arg_min(reason, precedence) as reason
        from (select * from same_key union all select * from same_campaign)
        group by candidate_id
    """, {"as_of": as_of})
