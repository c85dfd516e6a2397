{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- Every queued message carries the customer's current address for its channel.
select c.customer_id, c.campaign, c.channel
from {{ ref('campaign_candidates') }} as c
left join {{ ref('stg_shop__customers') }} as s on s.customer_id = c.customer_id
where c.state = 'queued'
  and (
      c.address is null
      or c.address is distinct from nullif(trim(case c.channel
          when 'email' then s.email when 'sms' then s.phone
          when 'push' then s.push_token when 'wechat' then s.wechat_openid end), '')
  )
