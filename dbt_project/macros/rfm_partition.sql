{#- The score grid of the RFM map: r_score 1..5 x fm_score 1, 1.5, ..., 5 (45 cells). -#}
{% macro rfm_grid_sql() %}
    {%- for r in range(1, 6) %}{% for half in range(2, 11) %}
    select {{ r }} as r_score, cast({{ half / 2 }} as decimal(4, 1)) as fm_score
    {%- if not loop.last or r < 5 %} union all{% endif %}
    {%- endfor %}{% endfor %}
{% endmacro %}


{#- Stops the build, naming the cells, unless the seed `seed_relation` partitions the grid:
    every cell covered by exactly one row, every segment owning at least one cell.
    Runs as a query at execution time so that the message can say which cells are wrong
    (a data test could only count them). -#}
{% macro assert_rfm_partition(seed_relation) %}
    {%- if execute -%}
    {%- set matches = run_query(
        "with grid as (" ~ rfm_grid_sql() ~ ") "
        ~ "select g.r_score, g.fm_score, s.segment from grid as g left join " ~ seed_relation
        ~ " as s on g.r_score between s.r_score_min and s.r_score_max"
        ~ " and g.fm_score between s.fm_score_min and s.fm_score_max"
        ~ " order by g.r_score desc, g.fm_score, s.segment"
    ) -%}
    {%- set segments = run_query(
        "select distinct segment from " ~ seed_relation ~ " order by segment"
    ).columns[0].values() -%}
    {%- set cover = {} -%}
    {%- for row in matches.rows -%}
        {%- set cell = "(r_score " ~ row[0] ~ ", fm_score " ~ (row[1] | float) ~ ")" -%}
        {%- if cell not in cover %}{% do cover.update({cell: []}) %}{% endif -%}
        {%- if row[2] is not none %}{% do cover[cell].append(row[2]) %}{% endif -%}
    {%- endfor -%}
    {%- set problems = [] -%}
    {%- set owners = [] -%}
    {%- for cell, names in cover.items() -%}
        {%- if names | length == 0 -%}
            {%- do problems.append("cell " ~ cell ~ " is covered by no row") -%}
        {%- elif names | length > 1 -%}
            {%- do problems.append("cell " ~ cell ~ " is covered by " ~ names | length
                ~ " rows (" ~ names | join(", ") ~ ")") -%}
        {%- else -%}
            {%- do owners.append(names[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for segment in segments if segment not in owners -%}
        {%- do problems.append("segment '" ~ segment ~ "' owns no cell") -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            "The RFM segment map " ~ seed_relation ~ " does not partition the score grid "
            ~ "(r_score 1..5 x fm_score 1..5 in steps of 0.5): " ~ problems | join("; ")
            ~ ". Fix dbt_project/seeds/rfm_segments.csv.") }}
    {%- endif -%}
    {%- endif -%}
{% endmacro %}
