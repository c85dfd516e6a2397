"""`marts.segment_members`: customer x segment for the as-of date, the lists a CRM loads.

Segments (the `segment` name is also the export file name, `<as-of>/segments/<segment>.csv`):
- `rfm_<segment>`       the customer's RFM segment (dim_customers.rfm_segment), e.g. rfm_champions,
                        rfm_cant_lose_them;
- `tier_<tier>`         the member tier (dim_customers.member_tier), e.g. tier_gold;
- `predicted_churners`  churn_risk in the `churner_risk_bands` setting (default 'high'), when
                        marts.customer_predictions exists.
Names are lower-case ASCII slugs of the labels (apostrophes dropped, other runs of characters
replaced by '_'); a label with no ASCII letter or digit gets 'x' + 8 hex digits of its md5.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from retention_pipeline.activation import inputs
from retention_pipeline.activation.sqlutil import execute
from retention_pipeline.settings import Settings

SEGMENT_MEMBERS = "marts.segment_members"
PREDICTED_CHURNERS = "predicted_churners"
# The default RFM segments (docs/metrics.md#rfm-segment-map): their files are written every day,
# empty or not, so that a CRM replacing its lists from the files also empties a segment that lost
# every member.
DEFAULT_RFM_SEGMENTS = (
    "Champions", "Loyal Customers", "Potential Loyalist", "Recent Customers", "Promising",
    "Customers Needing Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating",
    "Lost",
)

SLUG_MACRO = """
create or replace temp macro activation_slug(label) as
    coalesce(
        nullif(
            regexp_replace(
                regexp_replace(regexp_replace(lower(label), '[''’]', '', 'g'), '[^a-z0-9]+', '_', 'g'),
                '^_+|_+$', '', 'g'
            ),
            ''
        ),
        'x' || substr(md5(label), 1, 8)
    );
"""


def slug(con: duckdb.DuckDBPyConnection, label: str) -> str:
    con.execute(SLUG_MACRO)
    return con.execute("select activation_slug(?)", [label]).fetchone()[0]


def build_segment_members(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: dt.date
) -> dict[str, int]:
    """Rebuild marts.segment_members for `as_of`; returns members per segment."""
    inputs.check_required(con, {inputs.DIM_CUSTOMERS})
    con.execute(SLUG_MACRO)
    predicted = ""
    if inputs.available(con, inputs.PREDICTIONS):
        predicted = f"""
            union all
            select 'prediction', 'Predicted churners', customer_id
            from {inputs.PREDICTIONS}
            where list_contains($churner_risk_bands, churn_risk)
        """
    execute(con, f"""
        create or replace table {SEGMENT_MEMBERS} as
        with members as (
            select 'rfm' as segment_type, rfm_segment as segment_label, customer_id
            from {inputs.DIM_CUSTOMERS}
            where rfm_segment is not null
            union all
            select 'member_tier', member_tier, customer_id
            from {inputs.DIM_CUSTOMERS}
            where member_tier is not null
            {predicted}
        ),
        names as (  -- one slug per label, not per member
            select
                segment_type,
                segment_label,
                case segment_type
                    when 'rfm' then 'rfm_' || activation_slug(segment_label)
                    when 'member_tier' then 'tier_' || activation_slug(segment_label)
                    else '{PREDICTED_CHURNERS}'
                end as segment
            from (select distinct segment_type, segment_label from members)
        )
        select distinct
            cast($as_of as date) as as_of_date,
            n.segment,
            m.segment_type,
            m.segment_label,
            m.customer_id
        from members as m
        join names as n using (segment_type, segment_label)
        where m.customer_id is not null
    """, {"as_of": as_of, "churner_risk_bands": list(settings.churner_risk_bands)})
    return dict(con.execute(
        f"select segment, count(*) from {SEGMENT_MEMBERS} group by 1 order by 1"
    ).fetchall())


def exported_segments(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[str]:
    """Segments that get a file: every segment with members, plus the default RFM segments."""
    con.execute(SLUG_MACRO)
    present = {r[0] for r in con.execute(
        f"select distinct segment from {SEGMENT_MEMBERS} where as_of_date = ?", [as_of]
    ).fetchall()}
    defaults = {r[0] for r in con.execute(
        "select 'rfm_' || activation_slug(label) from unnest(?::varchar[]) as t(label)",
        [list(DEFAULT_RFM_SEGMENTS)],
    ).fetchall()}
    return sorted(present | defaults)
