{{ config(materialized='ephemeral') }}
-- The enabled campaigns of the preset in force (setting contact_policy_preset): category (fixed in
-- code, macros/activation.sql), priority, cooldown, control share and send hour (seed, else the
-- setting; the hour clamped into the preset's allowed hours) and the daily volume cap (null: none).
{%- set preset = act_text(run_var('contact_policy_preset', 'daily_use')) %}
with categories as (
    {%- for name, category in campaign_categories().items() %}
    select '{{ name }}' as campaign, '{{ category }}' as category{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

hours as (
    select earliest_send_hour, latest_send_hour
    from {{ ref('contact_policy_presets') }}
    where preset = {{ preset }}
)

select
    s.campaign,
    k.category,
    s.priority,
    coalesce(s.cooldown_days, 0) as cooldown_days,
    coalesce(s.control_share, {{ run_var('control_share', 0.1) | float }}) as control_share,
    -- the allowed hours win over any configured send hour
    least(greatest(coalesce(s.send_hour, {{ run_var('send_hour', 10) | int }}), h.earliest_send_hour),
          h.latest_send_hour) as send_hour,
    s.daily_volume_cap
from {{ ref('contact_policy_campaigns') }} as s
join categories as k on k.campaign = s.campaign
cross join hours as h
where s.preset = {{ preset }} and coalesce(s.enabled, false)
