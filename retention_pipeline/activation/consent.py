"""Where consent and addresses get checked: temp table `activation_reach`.

One row per customer and channel (email, sms, push, wechat):
- `address`: email / phone / push_token / wechat_openid (null when empty);
- `marketing_ok`: the customer accepts the channel (accepts_*) and no unsubscribe event for it
  came later than the customer record that carries the consent (its updated_at, else created_at;
  an unsubscribe without a channel, or with channel 'all', withdraws every channel);
- `service_ok`: marketing_ok, or the channel is one that service may use without marketing
  consent (the preset's consent_free_service_channels, default email) — an unsubscribe from
  marketing does not stop an order's service email.
An address is still needed for either.
"""

from __future__ import annotations

import duckdb

from retention_pipeline.activation import inputs

CHANNEL_COLUMNS = {  # channel -> (address column, consent column) of staging customers
    "email": ("email", "accepts_email"),
    "sms": ("phone", "accepts_sms"),
    "push": ("push_token", "accepts_push"),
    "wechat": ("wechat_openid", "accepts_wechat"),
}


def unsubscribes_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Latest unsubscribe per customer and channel ('all' = every channel)."""
    if not inputs.available(con, inputs.EVENTS):
        return "select null::varchar as customer_id, null::varchar as channel, null::timestamp as at where false"
    return f"""
        select
            customer_id,
            coalesce(nullif(lower(trim(json_extract_string(properties, '$.channel'))), ''), 'all')
                as channel,
            max(occurred_at) as at
        from {inputs.EVENTS}
        where event_type = 'unsubscribe' and customer_id is not null
        group by all
    """


def build_reach(con: duckdb.DuckDBPyConnection) -> None:
    per_channel = "\nunion all\n".join(
        f"select customer_id, '{channel}' as channel, {address} as address, "
        f"coalesce({consent}, false) as accepts, consent_at from customers"
        for channel, (address, consent) in CHANNEL_COLUMNS.items()
    )
    con.execute(f"""
        create or replace temp table activation_reach as
        with customers as (
            select *, coalesce(updated_at, created_at) as consent_at
            from {inputs.CUSTOMERS}
        ),
        channels as ({per_channel}),
        unsubscribes as ({unsubscribes_sql(con)}),
        withdrawn as (
            select c.customer_id, c.channel
            from channels as c
            join unsubscribes as u
                on u.customer_id = c.customer_id
                and u.channel in (c.channel, 'all')
            -- a consent given after the unsubscribe (a later customer record) counts again
            where c.consent_at is null or u.at > c.consent_at
            group by all
        ),
        reach as (
            select
                c.customer_id,
                c.channel,
                nullif(trim(c.address), '') as address,
                c.accepts and w.customer_id is null as marketing_ok
            from channels as c
            left join withdrawn as w using (customer_id, channel)
        )
        select
            r.customer_id,
            r.channel,
            r.address,
            r.marketing_ok,
            r.marketing_ok or f.channel is not null as service_ok
        from reach as r
        left join policy_consent_free as f on f.channel = r.channel
    """)
