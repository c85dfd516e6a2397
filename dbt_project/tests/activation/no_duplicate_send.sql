{{ config(meta={'dagster': {'ref': {'name': 'campaign_candidates'}}}) }}
-- Nothing queued today repeats a message (same customer and dedupe key) queued or held out on an
-- earlier day, unless the campaign's repeat window has passed.
select c.customer_id, c.campaign, c.dedupe_key, max(h.as_of_date) as logged_on
from {{ ref('campaign_candidates') }} as c
join {{ contact_log_before_as_of() }} as h
    on h.customer_id = c.customer_id
    and h.dedupe_key = c.dedupe_key
    and h.state in ('queued', 'holdout')
where c.state = 'queued'
  and (
      {{ campaign_repeat_days_sql('c.campaign') }} is null
      or h.as_of_date > {{ add_days('-(' ~ campaign_repeat_days_sql('c.campaign') ~ ')', act_day()) }}
  )
group by c.customer_id, c.campaign, c.dedupe_key
