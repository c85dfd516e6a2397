"""Frequency caps: temp table `activation_capped` of (customer, channel) that may not carry
another marketing message today.

A cap (preset, channel, window_days, max_sends) allows at most max_sends queued marketing messages
in any window of window_days consecutive days ending on the send day. Today's send would be one
more, so a channel is capped when the sends already logged in the window's earlier days reach
max_sends. Only queued marketing rows count: a held-out message was never sent, and service
messages are exempt from caps (they neither are capped nor use up a cap).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.activation.contact_log import CONTACT_LOG
from retention_pipeline.activation.sqlutil import execute


def build_capped(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    execute(con, f"""
        create or replace temp table activation_capped as
        with counted as (
            select h.customer_id, h.channel, c.max_sends, count(*) as sends
            from {CONTACT_LOG} as h
            join policy_caps as c on c.channel = h.channel
            where h.state = 'queued'
              and h.category = 'marketing'
              and h.as_of_date < $as_of
              and h.as_of_date > $as_of - c.window_days
            group by h.customer_id, h.channel, c.window_days, c.max_sends
        )
        select distinct customer_id, channel
        from counted
        where sends >= max_sends
    """, {"as_of": as_of})
