-- What drives repurchase (docs/metrics.md#marts): repurchase within each window by customer attributes fixed at
-- the first purchase occasion. One row per dimension, value and window. Dimensions that need order
-- items (first_category) or events (first_order_had_return_or_complaint, first_response_bucket)
-- have no rows when the shop sends none.
{%- set dimensions = [
    ('first_category', "coalesce(first_category, 'unknown')", 'items'),
    ('acquisition_channel', "coalesce(acquisition_channel, 'unknown')", none),
    ('first_order_channel', "coalesce(first_order_channel, 'unknown')", none),
    ('first_order_coupon', "case when first_order_used_coupon then 'used' else 'not used' end", none),
    ('country', "coalesce(country, 'unknown')", none),
    ('first_order_had_return_or_complaint',
        "case when first_order_had_return_or_complaint then 'yes' else 'no' end", 'events'),
    ('first_response_bucket', 'first_response_bucket', 'events'),
    ('gender', "coalesce(nullif(trim(gender), ''), 'unknown')", none),
    ('age_band', "case
        when age_at_first is null then 'unknown'
        when age_at_first < 25 then '< 25'
        when age_at_first < 35 then '25–34'
        when age_at_first < 45 then '35–44'
        when age_at_first < 55 then '45–54'
        else '55+' end", none),
] %}

with customers as (
    select
        c.customer_id,
        c.first_occasion_date,
        c.days_to_second_occasion,
        c.first_order_channel,
        c.first_order_used_coupon,
        d.first_category,
        d.acquisition_channel,
        d.country,
        a.first_order_had_return_or_complaint,
        a.first_response_bucket,
        p.gender,
        -- whole years of age on the first occasion: the year difference, less one when the
        -- birthday is still to come in that year (a 29 February birthday counts from 1 March)
        extract(year from c.first_occasion_date) - extract(year from p.birthday)
            - case
                when extract(month from c.first_occasion_date) * 100
                    + extract(day from c.first_occasion_date)
                    < extract(month from p.birthday) * 100 + extract(day from p.birthday)
                then 1 else 0
            end as age_at_first
    from {{ ref('int_customer_purchases') }} as c
    inner join {{ ref('dim_customers') }} as d on d.customer_id = c.customer_id
    inner join {{ ref('int_customer_aftersales') }} as a on a.customer_id = c.customer_id
    left join {{ ref('stg_shop__customers') }} as p on p.customer_id = c.customer_id
),

has_items as (
    select count(*) > 0 as present from (select 1 as x from {{ ref('stg_shop__order_items') }} limit 1) as i
),

has_events as (
    select count(*) > 0 as present from (select 1 as x from {{ ref('stg_shop__events') }} limit 1) as e
),

long as (
    {%- for name, expression, needs in dimensions %}
    select
        '{{ name }}' as dimension,
        cast({{ expression }} as {{ dbt.type_string() }}) as dimension_value,
        first_occasion_date,
        days_to_second_occasion
    from customers
    {%- if needs %}
    where (select present from has_{{ needs }})
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

flagged as (
    select
        l.dimension,
        l.dimension_value,
        w.window_days,
        case when {{ is_matured('l.first_occasion_date', 'w.window_days') }} then 1 else 0 end
            as is_matured,
        case
            when {{ is_matured('l.first_occasion_date', 'w.window_days') }}
                and {{ repurchased_within('l.days_to_second_occasion', 'w.window_days') }}
            then 1 else 0
        end as has_repurchased
    from long as l
    cross join ({{ repurchase_windows_relation() }}) as w
)

select
    dimension,
    dimension_value,
    window_days,
    count(*) as customers,
    cast(sum(is_matured) as bigint) as matured_customers,
    cast(sum(has_repurchased) as bigint) as repurchased_customers,
    {{ share('sum(has_repurchased)', 'sum(is_matured)') }} as repurchase_rate
from flagged
group by dimension, dimension_value, window_days
