-- surprise_reward (marketing): customers of the RFM segments $segments (default Champions, Loyal
-- Customers) with a purchase occasion in the last $recent_days days (default 90), drawn each day
-- with probability $probability (default 5 %) by md5 of (customer, as-of date): deterministic, so a
-- re-run draws the same customers. At least surprise_reward_min_gap_days (default 30) apart.
select
    customer_id,
    'surprise_reward' as campaign,
    'surprise_reward' as dedupe_key,
    json_object(
        'segment', rfm_segment,
        'last_order_date', last_occasion_date
    )::varchar as context
from marts.dim_customers
where list_contains($segments, rfm_segment)
  and last_occasion_date > $as_of - $recent_days
  and activation_bucket('surprise_reward|' || customer_id || '|' || strftime($as_of, '%Y-%m-%d'))
      < $probability
