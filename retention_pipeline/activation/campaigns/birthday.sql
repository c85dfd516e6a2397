-- birthday (marketing): the birthday's month and day are the as-of date's; someone born on
-- 29 February is greeted on 28 February in years without one. Once a year (the key holds the year).
select
    customer_id,
    'birthday' as campaign,
    'birthday:' || cast(year($as_of) as varchar) as dedupe_key,
    json_object('birthday', strftime(birthday, '%m-%d'))::varchar as context
from staging.stg_shop__customers
where birthday is not null
  and (
      (month(birthday) = month($as_of) and day(birthday) = day($as_of))
      or (
          month(birthday) = 2 and day(birthday) = 29
          and month($as_of) = 2 and day($as_of) = 28
          -- not a leap year: February of the as-of year has 28 days
          and day(last_day(make_date(year($as_of), 2, 1))) = 28
      )
  )
