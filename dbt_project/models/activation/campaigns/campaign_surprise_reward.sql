{{ config(materialized='ephemeral') }}
-- surprise_reward (marketing): customers of the RFM segments surprise_reward_segments (default
-- Champions, Loyal Customers) with a purchase occasion in the last surprise_reward_recent_days days
-- (default 90), drawn each day with probability surprise_reward_probability (default 5 %) by md5 of
-- (customer, as-of date): deterministic, so a re-run draws the same customers. At least
-- surprise_reward_min_gap_days (default 30) apart.
select
    customer_id,
    'surprise_reward' as campaign,
    'surprise_reward' as dedupe_key,
    {{ json_object([
        ('segment', json_string('rfm_segment')),
        ('last_order_date', json_string('last_occasion_date')),
    ]) }} as context
from {{ ref('dim_customers') }}
where rfm_segment in {{ act_in(run_var('surprise_reward_segments', ['Champions', 'Loyal Customers'])) }}
  and last_occasion_date > {{ act_day(-run_var('surprise_reward_recent_days', 90)) }}
  and {{ md5_bucket("'surprise_reward|' || customer_id || '|" ~ act_as_of() ~ "'") }}
      < {{ run_var('surprise_reward_probability', 0.05) | float }}
