{#- Makes the raw sources visible to the target at the start of every dbt invocation (hook in
    dbt_project.yml). DuckDB and PostgreSQL hold them as tables already (the ingestion writes them,
    or loads them into PostgreSQL by COPY). On Spark the pipeline writes them as Parquet folders
    partitioned by _batch_date under the lake (retention_pipeline/targets/raw.py); they are
    (re-)registered here, in dbt's own session, so that a new batch's partitions are seen. -#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
    {%- set lake = env_var('RETENTION_LAKE', '../data/lake') -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for source_node in graph.sources.values() if source_node.source_name == 'raw' -%}
        {%- set table = 'raw.' ~ source_node.name -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
        {%- do run_query("create table " ~ table ~ " using parquet location '" ~ lake ~ "/raw/"
                         ~ source_node.name ~ "'") -%}
        {%- do run_query('msck repair table ' ~ table) -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
