{#- The values a run passes to the models (as-of date, reporting time zone, minimum order value,
    the incremental watermarks): `--vars` when given on the command line, else the JSON object in
    the env var RETENTION_DBT_RUN_VARS, else `default` (docs/operations.md#incremental-runs).

    The pipeline passes them through the environment, not `--vars`: dbt re-parses the whole
    project when its command-line vars differ from those of the saved parse, and the as-of date
    differs every day. The env var is read only while executing (`execute`), never while parsing,
    so dbt does not track it and the parse of yesterday (or of `retention run`'s start) is reused. -#}
{% macro run_var(name, default=none) -%}
    {%- set given = var(name, none) -%}
    {%- if given is not none -%}
        {{- return(given) -}}
    {%- endif -%}
    {%- if execute -%}
        {%- set passed = fromjson(env_var('RETENTION_DBT_RUN_VARS', '{}')) -%}
        {%- if passed.get(name) is not none -%}
            {{- return(passed[name]) -}}
        {%- endif -%}
    {%- endif -%}
    {{- return(default) -}}
{%- endmacro %}
