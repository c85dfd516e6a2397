{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- With today's queued marketing messages, no customer exceeds a cap of the preset (channel x
-- window) counting queued marketing messages of the contact log.
{%- set marketing = act_in(marketing_campaigns()) %}
with today as (
    select customer_id, channel from {{ ref('campaign_candidates') }}
    where state = 'queued' and campaign in {{ marketing }}
),

caps as (
    select channel, window_days, max_sends
    from {{ ref('contact_policy_caps') }}
    where preset = {{ act_text(run_var('contact_policy_preset', 'daily_use')) }}
)

select t.customer_id, t.channel, k.window_days, k.max_sends, 1 + count(h.customer_id) as sends_in_window
from today as t
join caps as k on k.channel = t.channel
left join {{ contact_log_before_as_of() }} as h
    on h.customer_id = t.customer_id
    and h.channel = t.channel
    and h.state = 'queued'
    and h.campaign in {{ marketing }}
    and h.as_of_date > {{ add_days('-k.window_days', act_day()) }}
group by t.customer_id, t.channel, k.window_days, k.max_sends
having 1 + count(h.customer_id) > k.max_sends
