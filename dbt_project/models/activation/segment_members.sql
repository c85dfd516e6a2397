-- Customer x segment for the as-of date, the lists a CRM loads (docs/activation.md). The segment
-- name is also the export file name (<as-of>/segments/<segment>.csv):
-- - rfm_<segment>: the customer's RFM segment (dim_customers.rfm_segment), e.g. rfm_champions;
-- - tier_<tier>: the member tier, e.g. tier_gold;
-- - predicted_churners: churn_risk in the churner_risk_bands setting (default 'high').
-- Names are lower-case ASCII slugs of the labels (macros/activation.sql, segment_slug).
with members as (
    select 'rfm' as segment_type, rfm_segment as segment_label, customer_id
    from {{ ref('dim_customers') }}
    where rfm_segment is not null
    union all
    select 'member_tier' as segment_type, member_tier as segment_label, customer_id
    from {{ ref('dim_customers') }}
    where member_tier is not null
    union all
    select 'prediction' as segment_type, 'Predicted churners' as segment_label, customer_id
    from {{ ref('activation_predictions') }}
    where churn_risk in {{ act_in(run_var('churner_risk_bands', ['high'])) }}
),

names as (  -- one slug per label, not per member
    select
        segment_type,
        segment_label,
        case segment_type
            when 'rfm' then 'rfm_' || {{ segment_slug('segment_label') }}
            when 'member_tier' then 'tier_' || {{ segment_slug('segment_label') }}
            else 'predicted_churners'
        end as segment
    from (select distinct segment_type, segment_label from members) as labels
)

select distinct
    {{ act_day() }} as as_of_date,
    n.segment,
    m.segment_type,
    m.segment_label,
    m.customer_id
from members as m
join names as n on n.segment_type = m.segment_type and n.segment_label = m.segment_label
where m.customer_id is not null
