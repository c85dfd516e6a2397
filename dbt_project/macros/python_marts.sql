{#- Makes the tables the Python prediction fits write visible to the target (hook in
    dbt_project.yml). DuckDB and PostgreSQL hold them as tables already (retention_pipeline/
    targets/write.py inserts or COPYs them). On Spark the pipeline writes them as Parquet files
    under <lake>/python_marts/<table>/; they are (re-)registered here, in dbt's own session, with
    the columns and types their source declares (models/marts/_python_marts.yml), so a table the
    pipeline has not written yet is an empty one rather than a missing one. -#}
{% macro register_python_marts() -%}
    {{ return(adapter.dispatch('register_python_marts')()) }}
{%- endmacro %}

{% macro default__register_python_marts() -%}
    select 1
{%- endmacro %}

{% macro spark__register_python_marts() -%}
    {%- if execute -%}
    {%- set lake = env_var('RETENTION_LAKE', '../data/lake') -%}
    {%- do run_query('create database if not exists marts') -%}
    {%- for source_node in graph.sources.values() if source_node.source_name == 'python_marts' -%}
        {%- set columns = source_node.columns.values() | list -%}
        {%- if columns and columns | selectattr('data_type') | list | length == columns | length -%}
            {%- set table = 'marts.' ~ source_node.name -%}
            {%- set ddl = [] -%}
            {%- for column in columns -%}
                {%- do ddl.append(column.name ~ ' ' ~ column.data_type) -%}
            {%- endfor -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ ' (' ~ ddl | join(', ') ~ ') using parquet location \''
                             ~ lake ~ '/python_marts/' ~ source_node.name ~ '\'') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
