"""`marts.contact_log`: the append-only history of contacts, read by caps and cooldowns.

One row per message queued or held out on an as-of date (suppressed candidates are not contacts;
they stay in `marts.campaign_candidates`). Rows are only ever added, except that re-running a day
replaces that day: its rows are deleted and inserted again in one transaction, so a re-run never
duplicates a contact and a crash never leaves half a day.

Decisions for a day read only the log of earlier days (as_of_date < the as-of date), so re-running
a day decides exactly as the first run did when the data are the same.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.warehouse import replace_day

CONTACT_LOG = "marts.contact_log"
CANDIDATES = "marts.campaign_candidates"

COLUMNS = """
    as_of_date date not null,
    customer_id varchar not null,
    campaign varchar not null,
    category varchar not null,
    dedupe_key varchar not null,
    state varchar not null,
    channel varchar,
    send_at_utc timestamp,
    send_at_local timestamp,
    recipient_timezone varchar,
    context varchar
"""


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(f"create table if not exists {CONTACT_LOG} ({COLUMNS})")


def record_day(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """Replace the as-of date's contacts with the queued and held-out candidates of that date."""
    ensure_table(con)
    days = [r[0] for r in con.execute(f"select distinct as_of_date from {CANDIDATES}").fetchall()]
    if days and days != [as_of]:
        raise RuntimeError(
            f"{CANDIDATES} holds the decisions of {days}, not of {as_of}: decide the day first"
        )
    return replace_day(
        con,
        CONTACT_LOG,
        as_of,
        f"""select as_of_date, customer_id, campaign, category, dedupe_key, state, channel,
               send_at_utc, send_at_local, recipient_timezone, context
        from {CANDIDATES}
        where as_of_date = $as_of and state in ('queued', 'holdout')
        order by campaign, customer_id, dedupe_key""",
    )
