{#- Incremental staging (docs/operations.md#incremental-runs).

    The Python dbt asset decides per run whether dbt builds incrementally; when it does, it passes
    `incremental_since_as_of` (the as-of date of the last successful build) and
    `incremental_since_ingested` (the newest `_ingested_at` raw held when that build started).
    A key is *touched* when one of its raw rows may change what staging holds for it between that
    build and this one:
    - the row was ingested after the last build (a new file, or a re-run of a day);
    - the row's batch became visible (`_batch_date` after the last build's as-of date);
    - one of its timestamps crossed the as-of boundary (e.g. an `updated_at` or `ordered_at` in
      the new day, already loaded but ignored by the earlier as-of date). A timestamp still after
      this build's as-of day crossed nothing: staging compares timestamps only with the end of
      the as-of day, so such a row (a product version stamped next month) is as ignored now as
      it was then, and its key is not recomputed every day until its time comes.
    Without those vars (dbt run by hand on an existing table) every key counts as touched:
    slower, never wrong. -#}

{#- Raw rows a run for the as-of date may use: batches loaded on or before the as-of date, so a
    backfill of an old day sees what that day saw. The first batch a table ever got is history
    (a shop's whole past loaded at once) and is visible to every as-of date; its rows are then
    cut by their own timestamps (current_version.sql). -#}
{% macro visible_batch(relation) -%}
    (_batch_date <= {{ as_of_date() }}
     or _batch_date = (select min(_batch_date) from {{ relation }}))
{%- endmacro %}

{% macro incremental_vars_set() -%}
    {{- return(run_var("incremental_since_as_of", none) is not none
               and run_var("incremental_since_ingested", none) is not none) -}}
{%- endmacro %}

{#- The first instant after the last successful build's as-of day (naive UTC). -#}
{% macro since_as_of_end_utc() -%}
    {%- set next_day = modules.datetime.date.fromisoformat(run_var("incremental_since_as_of")) + modules.datetime.timedelta(days=1) -%}
    {{ local_to_utc("timestamp '" ~ next_day.isoformat() ~ " 00:00:00'") }}
{%- endmacro %}

{#- True for a raw row that touches its key since the last build (see above). -#}
{% macro touched_row(timestamps) -%}
    {%- if incremental_vars_set() -%}
    (_ingested_at > cast('{{ run_var("incremental_since_ingested") }}' as timestamp)
     or _batch_date > cast('{{ run_var("incremental_since_as_of") }}' as date)
     {%- for column in timestamps %}
     or ({{ column }} >= {{ since_as_of_end_utc() }} and {{ column }} < {{ as_of_end_utc() }})
     {%- endfor %})
    {%- else -%}
    (1 = 1)
    {%- endif -%}
{%- endmacro %}

{#- The keys of `relation` touched since the last build, among the rows this run may use. -#}
{% macro touched_keys(relation, key, timestamps=[]) -%}
    select distinct {{ key }} from {{ relation }}
    where {{ visible_batch(relation) }} and {{ touched_row(timestamps) }}
{%- endmacro %}

{#- `and <key> in (touched keys)` in an incremental build, nothing in a full one. -#}
{% macro only_touched(relation, key, timestamps=[]) -%}
    {%- if is_incremental() %}
    and {{ key }} in ({{ touched_keys(relation, key, timestamps) }})
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: the rows of touched keys leave the table first, so a key whose current version no
    longer qualifies (its new version is filtered out) does not keep its old row. -#}
{% macro delete_touched(relation, key, timestamps=[]) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ key }} in ({{ touched_keys(relation, key, timestamps) }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Test scope: in an incremental build a test on a huge table checks the touched keys only (the
    rest was checked by the build that wrote it). -#}
{% macro touched_test_scope(relation, key, timestamps=[]) -%}
    {%- if incremental_vars_set() -%}
    {{ key }} in ({{ touched_keys(relation, key, timestamps) }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The large staging models are incremental, except on Spark: dbt-spark's delete+insert needs
    Delta tables and the local lake writes Parquet, so there they are tables and every build is
    a full one (assets/dbt.py plans it so). -#}
{% macro staging_materialization() -%}
    {{- return('table' if target.type == 'spark' else 'incremental') -}}
{%- endmacro %}

{#- Incremental intermediate and mart models (docs/operations.md#incremental-runs).

    They read staging, not raw, so their touched keys are derived once per build from the raw
    rows the staging models recompute: `pipeline.touched_orders` (orders whose int_orders row may
    change) and `pipeline.touched_customers` (customers whose valid orders may have changed:
    every customer any visible version of a changed order names, so an order moving between
    customers touches both). A model recomputes its touched keys from all their rows in the
    models it reads. On Spark they are tables (see staging_materialization). -#}
{% macro incremental_materialization() -%}
    {{- return(staging_materialization()) -}}
{%- endmacro %}

{#- The timestamps of an order version that decide what staging shows of it on an as-of date. -#}
{% macro order_timestamps() -%}
    {{- return(['updated_at', 'ordered_at', 'shipped_at', 'delivered_at']) -}}
{%- endmacro %}

{#- True when this build recomputes only touched keys (an incremental build with watermarks). -#}
{% macro recomputes_touched() -%}
    {{- return(is_incremental() and incremental_vars_set()) -}}
{%- endmacro %}

{#- `and <column> in (the touched <what>)` when recomputing touched keys, nothing otherwise.
    what: 'orders' (order_id), 'customers' or 'price_tier_buyers' (customer_id). -#}
{% macro only_recomputed(column, what) -%}
    {%- if recomputes_touched() %}
    and {{ column }} in (select {{ touched_column(what) }} from {{ ref('touched_' ~ what) }})
    {%- endif -%}
{%- endmacro %}

{% macro touched_column(what) -%}
    {{- return({'orders': 'order_id', 'customers': 'customer_id', 'price_tier_buyers': 'customer_id'}[what]) -}}
{%- endmacro %}

{#- Pre-hook of an incremental intermediate model: the rows of its touched keys leave first, so a
    row that no longer exists (an occasion whose only order was refunded) does not stay. An
    incremental build without watermarks (dbt run by hand) recomputes, so empties, everything. -#}
{% macro delete_recomputed(column, what) -%}
    {{ delete_recomputed_where(
        column ~ " in (select " ~ touched_column(what) ~ " from " ~ ref('touched_' ~ what) ~ ")") }}
{%- endmacro %}

{#- The rows matching `condition` (SQL) when the build recomputes touched keys; every row when an
    incremental build recomputes everything; nothing on a full build (the table is new). -#}
{% macro delete_recomputed_where(condition) -%}
    {%- if recomputes_touched() -%}
    delete from {{ this }} where {{ condition }}
    {%- elif is_incremental() -%}
    delete from {{ this }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- fct_orders recomputes the touched orders and every order of a touched customer (its occasion
    numbers may have moved). `prefix`: e.g. 'o.' for the columns of the relation `o`. -#}
{% macro recomputed_orders(prefix='') -%}
    ({{ prefix }}order_id in (select order_id from {{ ref('touched_orders') }})
     or {{ prefix }}customer_id in (select customer_id from {{ ref('touched_customers') }}))
{%- endmacro %}

{#- Test scope of an incremental model that recomputes touched keys: in an incremental build
    (watermarks set) the rows of the keys it recomputed, `what` = 'customers', 'orders',
    'orders_and_customers' (recomputed_orders), 'product_buyers' (recomputed_product_buyers) or
    'price_tier_buyers'; in a full build every row. A model's very first build inside an incremental run is then checked
    on those keys only, as unique_touched. -#}
{% macro recomputed_scope(what) -%}
    {#- refs outside the watermark condition: dbt records a test's parents when parsing -#}
    {%- set orders = ref('touched_orders') if what in ('orders', 'orders_and_customers') else none -%}
    {%- set customers = ref('touched_customers') if what in ('customers', 'orders_and_customers') else none -%}
    {%- set buyers = ref('touched_product_buyers') if what == 'product_buyers' else none -%}
    {%- set tier_buyers = ref('touched_price_tier_buyers') if what == 'price_tier_buyers' else none -%}
    {%- if not incremental_vars_set() -%}
    1 = 1
    {%- elif what == 'product_buyers' -%}
    {{ recomputed_product_buyers() }}
    {%- elif what == 'price_tier_buyers' -%}
    customer_id in (select customer_id from {{ tier_buyers }})
    {%- elif what == 'orders_and_customers' -%}
    {{ recomputed_orders() }}
    {%- elif what == 'orders' -%}
    order_id in (select order_id from {{ orders }})
    {%- else -%}
    customer_id in (select customer_id from {{ customers }})
    {%- endif -%}
{%- endmacro %}

{% macro delete_recomputed_orders() -%}
    {{ delete_recomputed_where(recomputed_orders()) }}
{%- endmacro %}

{#- The rows int_customer_product_sales recomputes: the guests' (customer_id null, one group for
    all guests, cheap to redo) and those of touched_product_buyers. `prefix`: e.g. 'i.'. -#}
{% macro recomputed_product_buyers(prefix='') -%}
    ({{ prefix }}customer_id is null
     or {{ prefix }}customer_id in (select customer_id from {{ ref('touched_product_buyers') }}))
{%- endmacro %}
