"""Channel engagement: temp table `activation_engagement`, how a customer answers on each channel.

One row per customer and channel with `engagements` = the customer's message_open and
message_click events whose property `channel` names the channel (lower-cased; events without a
known channel are not counted), over the `channel_engagement_days` (default 180) days ending on the
as-of date (local dates of the reporting time zone). The policy picks, among the channels that pass
consent, address and caps, the one with the most engagements; a tie (and every customer without
engagement) keeps the campaign's channel order of the seed.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.activation import inputs
from retention_pipeline.activation.consent import CHANNEL_COLUMNS
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings


def build_engagement(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date) -> None:
    if not inputs.available(con, inputs.EVENTS):
        con.execute("""
            create or replace temp table activation_engagement
            (customer_id varchar, channel varchar, engagements bigint)
        """)
        return
    execute(con, f"""
        create or replace temp table activation_engagement as
        with engaged as (
            select
                customer_id,
                lower(trim(json_extract_string(properties, '$.channel'))) as channel,
                cast(timezone($reporting_tz, timezone('UTC', occurred_at)) as date) as local_date
            from {inputs.EVENTS}
            where event_type in ('message_open', 'message_click') and customer_id is not null
        )
        select customer_id, channel, count(*) as engagements
        from engaged
        where list_contains($channels, channel)
          and local_date between $as_of - ($days - 1) and $as_of
        group by customer_id, channel
    """, {"reporting_tz": settings.reporting_tz, "as_of": as_of,
          "days": settings.channel_engagement_days, "channels": list(CHANNEL_COLUMNS)})
