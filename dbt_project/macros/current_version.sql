{#- Ranks the versions of each key so that rank 1 is the version in force at the end of the as-of day:
    the latest version known by then (by `known_at`, then load order). A key whose every version is
    stamped after the as-of day keeps its earliest one, so a feed that sends only current state still
    has a history to backfill. Use: `where version_rank = 1`. `as_of_end`: the end of another as-of
    day than the run's (SQL; touched_price_tier_buyers ranks as the last build did). -#}
{% macro version_rank(key, known_at, as_of_end=none) -%}
    {%- set late = "(" ~ known_at ~ " >= " ~ (as_of_end or as_of_end_utc()) ~ ")" -%}
    row_number() over (
        partition by {{ key }}
        order by
            case when {{ late }} then 1 else 0 end,
            case when not {{ late }} or {{ known_at }} is null then {{ known_at }} end desc nulls last,
            case when {{ late }} then {{ known_at }} end asc,
            _ingested_at desc,
            _source_file desc,
            _source_line desc
    )
{%- endmacro %}
