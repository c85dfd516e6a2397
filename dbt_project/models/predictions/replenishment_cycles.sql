{#- Per category, the median days between consecutive purchase occasions of one customer that
    contain it (docs/metrics.md#replenishment-cycles): a customer who bought coffee on 1 March,
    31 March and 5 May adds the gaps 30 and 35. Occasions are local dates with a valid order, so two
    orders of one day are one occasion. Every gap counts once. A category needs at least var
    `cycle_min_samples` gaps for an observed cycle; uncategorized products get none (no reminder
    could name what to restock). The seed replenishment_cycle_overrides replaces observed cycles:
    a row with cycle_days sets the cycle (source 'override'), one without removes the category.
    Only categories with a known cycle are kept. -#}
{{ config(schema='marts') }}

with category_occasions as (
    select distinct i.customer_id, p.category, i.order_date
    from {{ ref('int_order_lines') }} as i
    inner join {{ ref('stg_shop__products') }} as p on p.product_id = i.product_id
    where i.is_valid_purchase and i.order_date <= {{ as_of_date() }}
),

gaps as (
    select
        category,
        {{ dbt.datediff(
            'lag(order_date) over (partition by customer_id, category order by order_date)',
            'order_date', 'day') }} as gap_days
    from category_occasions
),

observed as (
    select
        category,
        cast(percentile_cont(0.5) within group (order by gap_days) as {{ type_double() }})
            as cycle_days,
        count(*) as sample_size
    from gaps
    where gap_days is not null
    group by category
),

overrides as (
    select
        lower(trim(category)) as category,
        cast(cycle_days as {{ type_double() }}) as cycle_days
    from {{ ref('replenishment_cycle_overrides') }}
    where nullif(trim(category), '') is not null
),

categories as (
    select
        coalesce(o.category, v.category) as category,
        v.category is not null as overridden,
        v.cycle_days as override_days,
        o.cycle_days as observed_days,
        coalesce(o.sample_size, 0) as sample_size
    from observed as o
    full outer join overrides as v on v.category = o.category
)

select
    category,
    case when overridden then override_days else observed_days end as cycle_days,
    cast(sample_size as {{ dbt.type_bigint() }}) as sample_size,
    case when overridden then 'override' else 'observed' end as source
from categories
where case
    when overridden then override_days is not null
    else sample_size >= {{ run_var('cycle_min_samples', 30) }} and category <> 'uncategorized'
end
