{{ config(materialized='ephemeral') }}
-- birthday (marketing): the birthday's month and day are the as-of date's; someone born on
-- 29 February is greeted on 28 February in years without one. Once a year (the key holds the year).
{%- set as_of = modules.datetime.date.fromisoformat(act_as_of()) %}
{%- set leap = (as_of.year % 4 == 0 and as_of.year % 100 != 0) or as_of.year % 400 == 0 %}
select
    customer_id,
    'birthday' as campaign,
    'birthday:{{ as_of.year }}' as dedupe_key,
    {{ json_object([
        ('birthday', json_string("lpad(" ~ act_str("extract(month from birthday)") ~ ", 2, '0') || '-' || lpad("
                                 ~ act_str("extract(day from birthday)") ~ ", 2, '0')")),
    ]) }} as context
from {{ ref('stg_shop__customers') }}
where birthday is not null
  and (
      (extract(month from birthday) = {{ as_of.month }} and extract(day from birthday) = {{ as_of.day }})
      {%- if as_of.month == 2 and as_of.day == 28 and not leap %}
      or (extract(month from birthday) = 2 and extract(day from birthday) = 29)
      {%- endif %}
  )
