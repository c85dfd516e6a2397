-- Customers moving between RFM segments month over month
-- (docs/metrics.md#customer-history-and-segment-migration), from the month-end snapshots of dim_customers_history: every month whose
-- last day and the previous month's last day both have a snapshot. A customer without a segment at
-- the previous month end comes from 'new'. Rebuilt whole at every run.
with month_ends as (
    select distinct as_of_date
    from {{ ref('dim_customers_history') }}
    where as_of_date = cast({{ dbt.last_day('as_of_date', 'month') }} as date)
),

pairs as (
    select e.as_of_date as month_end, p.as_of_date as previous_month_end
    from month_ends as e
    inner join month_ends as p
        on p.as_of_date = cast({{ dbt.dateadd('day', -1, dbt.date_trunc('month', 'e.as_of_date')) }} as date)
),

moves as (
    select
        cast({{ dbt.date_trunc('month', 'pairs.month_end') }} as date) as month,
        pairs.previous_month_end,
        pairs.month_end,
        coalesce(b.rfm_segment, 'new') as from_segment,
        a.rfm_segment as to_segment,
        count(*) as customers
    from pairs
    inner join {{ ref('dim_customers_history') }} as a
        on a.as_of_date = pairs.month_end and a.rfm_segment is not null
    left join {{ ref('dim_customers_history') }} as b
        on b.as_of_date = pairs.previous_month_end and b.customer_id = a.customer_id
    group by
        {{ dbt.date_trunc('month', 'pairs.month_end') }},
        pairs.previous_month_end,
        pairs.month_end,
        coalesce(b.rfm_segment, 'new'),
        a.rfm_segment
)

select
    month,
    previous_month_end,
    month_end,
    from_segment,
    to_segment,
    from_segment = to_segment as is_same_segment,
    customers,
    cast(customers as {{ type_double() }}) / sum(customers) over (partition by month, from_segment)
        as share_of_from_segment
from moves
