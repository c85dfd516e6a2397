-- One row per cell of the RFM score grid with the segment that owns it. Building this model checks
-- that the seed partitions the grid (macro assert_rfm_partition): a gap, an overlap or a segment
-- without a cell stops the build here, before dim_customers, with the cells named.
{{ assert_rfm_partition(ref('rfm_segments')) }}

with grid as (
    {{ rfm_grid_sql() }}
)

select g.r_score, g.fm_score, s.segment
from grid as g
inner join {{ ref('rfm_segments') }} as s
    on g.r_score between s.r_score_min and s.r_score_max
    and g.fm_score between s.fm_score_min and s.fm_score_max
