"""Quiet hours: when a message may go, in the recipient's own time zone.

send_at is the as-of date at the campaign's send hour (seed, else the `send_hour` setting), in the
recipient's time zone when it is a valid IANA name, else the store's (`store_timezone`, default
the reporting time zone). The hour is clamped into the preset's allowed hours (default 08-21, see
presets.py), so no send is ever scheduled before 08:00 or after 21:00 local. Stored as naive UTC (`send_at_utc`,
like every timestamp of the warehouse) and naive local (`send_at_local`); the export writes the
local time with its UTC offset (ISO 8601, e.g. 2026-11-23T10:00:00+01:00).
"""

from __future__ import annotations

import duckdb

from retention_pipeline.activation import inputs
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings

MACROS = """
create or replace temp macro activation_local_send(as_of, hour) as
    cast(as_of as timestamp) + to_hours(cast(hour as bigint));
create or replace temp macro activation_to_utc(local_ts, tz) as
    timezone('UTC', timezone(tz, local_ts));
create or replace temp macro activation_from_utc(utc_ts, tz) as
    timezone(tz, timezone('UTC', utc_ts));
create or replace temp macro activation_iso_local(local_ts, utc_ts) as
    strftime(local_ts, '%Y-%m-%dT%H:%M:%S')
    || case when datediff('minute', utc_ts, local_ts) < 0 then '-' else '+' end
    || lpad(cast(abs(datediff('minute', utc_ts, local_ts)) // 60 as varchar), 2, '0')
    || ':'
    || lpad(cast(abs(datediff('minute', utc_ts, local_ts)) % 60 as varchar), 2, '0');
"""


def store_timezone(settings: Settings) -> str:
    return settings.store_timezone or settings.reporting_tz


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Macros above and temp table `activation_timezones` (the IANA names DuckDB knows)."""
    con.execute(MACROS)
    con.execute("""
        create or replace temp table activation_timezones as
        select distinct name from pg_timezone_names()
    """)


def build_recipient_timezones(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Temp table `activation_recipient_timezones`: each customer's send time zone."""
    execute(con, f"""
        create or replace temp table activation_recipient_timezones as
        select k.customer_id, coalesce(z.name, $store_tz) as recipient_timezone
        from {inputs.CUSTOMERS} as k
        left join activation_timezones as z on z.name = k.timezone
    """, {"store_tz": store_timezone(settings)})
