{#- Makes the tables the Python prediction fits write visible to the target (hook in
    dbt_project.yml). DuckDB and PostgreSQL hold them as tables already (retention_pipeline/
    targets/write.py inserts or COPYs them). On Spark the pipeline writes them as Parquet files
    where Spark keeps table marts.<table> (<lake>/warehouse/marts.db/<table>/, read back by
    retention_pipeline/targets/read.py like every Spark table); they are (re-)registered here, in dbt's own session, with
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
                             ~ lake ~ '/warehouse/marts.db/' ~ source_node.name ~ '\'') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- A table the Python fits write, as a relation for a model of the second phase. Before the fits
    have ever run (a plain `dbt build` of the whole project, a fresh target) it does not exist yet:
    then an empty relation with its declared columns, so that the model builds, empty of
    predictions, instead of failing. -#}
{% macro python_mart(name) -%}
    {%- set relation = source('python_marts', name) -%}
    {%- if not execute -%}
        {{ relation }}
    {%- elif adapter.get_relation(database=relation.database, schema=relation.schema,
                                  identifier=relation.identifier) is not none -%}
        {{ relation }}
    {%- else -%}
        {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'python_marts')
                       | selectattr('name', 'equalto', name) | first -%}
        {%- set types = {'string': dbt.type_string(), 'double': type_double(),
                         'bigint': dbt.type_bigint(), 'int': dbt.type_int(),
                         'boolean': dbt.type_boolean(), 'date': 'date',
                         'timestamp': dbt.type_timestamp()} -%}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ types[column.data_type] }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- endif -%}
{%- endmacro %}
