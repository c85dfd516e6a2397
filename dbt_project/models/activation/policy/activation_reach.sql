{{ config(materialized='ephemeral') }}
-- Where consent and addresses get checked: one row per customer and channel (email, sms, push,
-- wechat).
-- - address: email / phone / push_token / wechat_openid (null when empty);
-- - marketing_ok: the customer accepts the channel (accepts_*) and no unsubscribe event for it came
--   later than the customer record that carries the consent (its updated_at, else created_at; an
--   unsubscribe without a channel, or with channel 'all', withdraws every channel);
-- - service_ok: marketing_ok, or a channel service may use without marketing consent (the preset's
--   consent_free_service_channels, default email): an unsubscribe from marketing does not stop an
--   order's service email. An address is still needed for either.
{%- set channel_columns = {"email": ("email", "accepts_email"), "sms": ("phone", "accepts_sms"),
                           "push": ("push_token", "accepts_push"), "wechat": ("wechat_openid", "accepts_wechat")} %}
with customers as (
    select *, coalesce(updated_at, created_at) as consent_at
    from {{ ref('stg_shop__customers') }}
),

channels as (
    {%- for channel, (address, consent) in channel_columns.items() %}
    select customer_id, '{{ channel }}' as channel, {{ address }} as address,
           coalesce({{ consent }}, false) as accepts, consent_at
    from customers
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

unsubscribes as (
    -- the latest unsubscribe per customer and channel ('all' = every channel)
    select customer_id, channel, max(occurred_at) as unsubscribed_at
    from (
        select
            customer_id,
            occurred_at,
            coalesce(nullif(lower(trim({{ json_text('properties', 'channel') }})), ''), 'all') as channel
        from {{ ref('stg_shop__events') }}
        where event_type = 'unsubscribe' and customer_id is not null
    ) as u
    group by customer_id, channel
),

withdrawn as (
    select distinct c.customer_id, c.channel
    from channels as c
    join unsubscribes as u
        on u.customer_id = c.customer_id
        and u.channel in (c.channel, 'all')
    -- a consent given after the unsubscribe (a later customer record) counts again
    where c.consent_at is null or u.unsubscribed_at > c.consent_at
),

consent_free as (
    select k.channel
    from (select 'email' as channel union all select 'sms' union all select 'push' union all select 'wechat') as k
    join {{ ref('contact_policy_presets') }} as p
        on {{ dbt.position("'|' || k.channel || '|'", "'|' || replace(coalesce(p.consent_free_service_channels, ''), ' ', '') || '|'") }} > 0
    where p.preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
)

select
    c.customer_id,
    c.channel,
    nullif(trim(c.address), '') as address,
    c.accepts and w.customer_id is null as marketing_ok,
    (c.accepts and w.customer_id is null) or f.channel is not null as service_ok
from channels as c
left join withdrawn as w on w.customer_id = c.customer_id and w.channel = c.channel
left join consent_free as f on f.channel = c.channel
