{{ config(materialized='ephemeral') }}
-- Campaign x channel in the seed's order of preference (channel_rank 1 first); a channel listed
-- twice keeps its first position.
with channels as (
    select 'email' as channel union all select 'sms' union all select 'push' union all select 'wechat'
),

listed as (
    select
        c.campaign,
        k.channel,
        {{ dbt.position("'|' || k.channel || '|'", "'|' || replace(s.channels, ' ', '') || '|'") }} as found_at
    from {{ ref('activation_policy_campaigns') }} as c
    join {{ ref('contact_policy_campaigns') }} as s
        on s.campaign = c.campaign and s.preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
    cross join channels as k
)

select
    campaign,
    channel,
    row_number() over (partition by campaign order by found_at) as channel_rank
from listed
where found_at > 0
