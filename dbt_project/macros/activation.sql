{#- Activation (models/activation, docs/activation.md): the settings as SQL literals, the contact
    log of earlier days, and the few expressions an engine writes its own way. Every value a CRM
    file or a message context carries is formatted here by string concatenation, never by an
    engine's JSON serializer, so the three targets give the same bytes. -#}

{#- A setting passed by retention_pipeline (Settings.dbt_vars); the default is the setting's. -#}
{% macro act_var(name, default=none) -%}
    {{- return(run_var(name, default)) -}}
{%- endmacro %}

{#- The as-of date as YYYY-MM-DD text (Jinja). -#}
{% macro act_as_of() -%}
    {{- return(run_var("as_of", run_started_at.strftime("%Y-%m-%d"))) -}}
{%- endmacro %}

{#- The as-of date `offset` days later (negative: earlier), as a date literal. -#}
{% macro act_day(offset=0) -%}
    {%- set as_of = modules.datetime.date.fromisoformat(run_var("as_of", run_started_at.strftime("%Y-%m-%d"))) -%}
    cast('{{ (as_of + modules.datetime.timedelta(days=offset | int)).isoformat() }}' as date)
{%- endmacro %}

{#- A text literal ('' quoted). -#}
{% macro act_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#- `(v1, v2, ...)` for `x in (...)`; `(null)` for an empty list, which matches nothing. -#}
{% macro act_in(values) -%}
    {%- if values | length == 0 -%}
        (null)
    {%- else -%}
        ({% for value in values %}{{ act_text(value) }}{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#- The store's time zone: `store_timezone`, else the reporting time zone. -#}
{% macro act_store_tz() -%}
    {{ act_text(run_var("store_timezone", none) or run_var("reporting_tz", "UTC")) }}
{%- endmacro %}

{#- Text of any value (dates as YYYY-MM-DD, integers as digits). -#}
{% macro act_str(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- An amount with exactly two decimals ('12.50'). -#}
{% macro act_amount(expr) -%}
    cast(cast({{ expr }} as decimal(18, 2)) as {{ dbt.type_string() }})
{%- endmacro %}

{#- JSON values, as text. -#}
{% macro json_string(expr) -%}
    coalesce(
        '"' || replace(replace(replace(replace(replace({{ act_str(expr) }},
            chr(92), chr(92) || chr(92)), chr(34), chr(92) || chr(34)),
            chr(10), chr(92) || 'n'), chr(13), chr(92) || 'r'), chr(9), chr(92) || 't') || '"',
        'null')
{%- endmacro %}

{% macro json_number(expr) -%}
    coalesce({{ act_str(expr) }}, 'null')
{%- endmacro %}

{% macro json_amount(expr) -%}
    coalesce({{ act_amount(expr) }}, 'null')
{%- endmacro %}

{% macro json_bool(expr) -%}
    (case when {{ expr }} then 'true' when not ({{ expr }}) then 'false' else 'null' end)
{%- endmacro %}

{#- A JSON object from (key, JSON value text) pairs, keys in the order given: {"a":1,"b":"x"}. -#}
{% macro json_object(pairs) -%}
    ('{'
    {%- for key, value in pairs %}
        || '{{ "," if not loop.first else "" }}"{{ key }}":' || {{ value }}
    {%- endfor %}
        || '}')
{%- endmacro %}

{#- A JSON array from an aggregate of JSON value texts (ordered_text_agg); [] when empty. -#}
{% macro json_array_agg(value, order_by) -%}
    ('[' || coalesce({{ ordered_text_agg(value, order_by) }}, '') || ']')
{%- endmacro %}

{#- Aggregate: the texts of a group joined by ',' in the order of the `order_by` expressions. -#}
{% macro ordered_text_agg(value, order_by, delimiter=',') -%}
    {{ return(adapter.dispatch('ordered_text_agg')(value, order_by, delimiter)) }}
{%- endmacro %}

{% macro default__ordered_text_agg(value, order_by, delimiter) -%}
    string_agg({{ value }}, '{{ delimiter }}' order by {{ order_by | join(", ") }})
{%- endmacro %}

{#- Spark: collect (keys..., value) structs, sort them, keep the values. -#}
{% macro spark__ordered_text_agg(value, order_by, delimiter) -%}
    array_join(transform(array_sort(collect_list(named_struct(
        {%- for key in order_by %}'k{{ loop.index }}', {{ key }}, {% endfor %}'v', {{ value }}
    ))), x -> x.v), '{{ delimiter }}')
{%- endmacro %}

{#- The JSON object of an offered product, over the columns product_id, product_name, category and
    launch_date of a campaign's few products: computed once per product, not per offer. -#}
{% macro product_offer_json() -%}
    {{ json_object([
        ('product_id', json_string('product_id')),
        ('product_name', json_string('product_name')),
        ('category', json_string('category')),
        ('launch_date', json_string('launch_date')),
    ]) }}
{%- endmacro %}

{#- The candidates of a product-offer campaign (new_arrival, vip_early_access): one per customer
    and day, from `offers` (customer_id, product_id, product_json from product_offer_json(),
    product_rank); the context lists its three best-ranked products and the dedupe key names them,
    so candidates grow with customers, not customers x products. The three ranks are picked by
    plain aggregates (rank 1 always exists): two ordered text aggregates cost three times as much
    at a million customers. -#}
{% macro product_offer_candidates(campaign, offers) -%}
select
    customer_id,
    '{{ campaign }}' as campaign,
    '{{ campaign }}:' || {{ first_three_joined('product_id') }} as dedupe_key,
    {{ json_object([('products', "('[' || " ~ first_three_joined('product_json') ~ " || ']')")]) }}
        as context
from {{ offers }}
where product_rank <= 3
group by customer_id
{%- endmacro %}

{#- Aggregate: `column` of product_rank 1, 2 and 3 joined by ',' (the ranks after the first may
    be missing). -#}
{% macro first_three_joined(column) -%}
    max(case when product_rank = 1 then {{ column }} end)
        || coalesce(',' || max(case when product_rank = 2 then {{ column }} end), '')
        || coalesce(',' || max(case when product_rank = 3 then {{ column }} end), '')
{%- endmacro %}

{#- md5 of a text, its first 32 bits as a number in [0, 1): the stable draw of the control group and
    the surprise reward. The hex prefix becomes an integer by each engine's own conversion, so the
    value is the same everywhere (and equals retention_pipeline's Python twin). -#}
{% macro md5_bucket(key) -%}
    (cast({{ adapter.dispatch('md5_prefix_integer')(key) }} as {{ type_double() }}) / cast(4294967296 as {{ type_double() }}))
{%- endmacro %}

{% macro default__md5_prefix_integer(key) -%}
    cast(('0x' || substr(md5({{ key }}), 1, 8)) as ubigint)
{%- endmacro %}

{% macro postgres__md5_prefix_integer(key) -%}
    ('x' || lpad(substr(md5({{ key }}), 1, 8), 16, '0'))::bit(64)::bigint
{%- endmacro %}

{% macro spark__md5_prefix_integer(key) -%}
    cast(conv(substr(md5({{ key }}), 1, 8), 16, 10) as bigint)
{%- endmacro %}

{#- A naive local timestamp in the time zone held by `tz` (a column) as naive UTC. -#}
{% macro local_in_tz_to_utc(expr, tz) -%}
    {{ return(adapter.dispatch('local_in_tz_to_utc')(expr, tz)) }}
{%- endmacro %}

{% macro default__local_in_tz_to_utc(expr, tz) -%}
    (({{ expr }} at time zone {{ tz }}) at time zone 'UTC')
{%- endmacro %}

{% macro spark__local_in_tz_to_utc(expr, tz) -%}
    to_utc_timestamp({{ expr }}, {{ tz }})
{%- endmacro %}

{% macro utc_to_tz(expr, tz) -%}
    {{ return(adapter.dispatch('utc_to_tz')(expr, tz)) }}
{%- endmacro %}

{% macro default__utc_to_tz(expr, tz) -%}
    (({{ expr }} at time zone 'UTC') at time zone {{ tz }})
{%- endmacro %}

{% macro spark__utc_to_tz(expr, tz) -%}
    from_utc_timestamp({{ expr }}, {{ tz }})
{%- endmacro %}

{#- The as-of date at a local hour (0-23, an integer column), as a naive timestamp. -#}
{% macro act_local_send(hour) -%}
    cast('{{ run_var("as_of", run_started_at.strftime("%Y-%m-%d")) }} ' || lpad({{ act_str(hour) }}, 2, '0') || ':00:00' as timestamp)
{%- endmacro %}

{#- Every run of a regular expression replaced; pattern and replacement are SQL text expressions. -#}
{% macro regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{#- The segment name of a label: lower-case ASCII slug (apostrophes dropped, other runs of
    characters '_'), else 'x' + 8 hex digits of its md5 (retention_pipeline/activation/segments.py
    is its Python twin). The apostrophes are written as chr(39) and chr(8217), so no engine's
    quoting rules touch them. -#}
{% macro segment_slug(label) -%}
    {%- set dropped = regex_replace_all("lower(" ~ label ~ ")", "'[' || chr(39) || chr(8217) || ']'", "''") -%}
    {%- set joined = regex_replace_all(dropped, "'[^a-z0-9]+'", "'_'") -%}
    coalesce(
        nullif({{ regex_replace_all(joined, "'^_+|_+$'", "''") }}, ''),
        'x' || substr(md5({{ label }}), 1, 8))
{%- endmacro %}

{#- The contact log's columns, with their types. -#}
{% macro contact_log_columns() -%}
    {{- return([
        ("as_of_date", "date"), ("customer_id", dbt.type_string()), ("campaign", dbt.type_string()),
        ("category", dbt.type_string()), ("dedupe_key", dbt.type_string()), ("state", dbt.type_string()),
        ("channel", dbt.type_string()), ("send_at_utc", dbt.type_timestamp()),
        ("send_at_local", dbt.type_timestamp()), ("recipient_timezone", dbt.type_string()),
        ("context", dbt.type_string())]) -}}
{%- endmacro %}

{#- The contact log of the days before the as-of date, as a subquery; with `days`, only the last
    `days` of them (the log is appended day by day, so a bounded read skips the older row groups).
    campaign_candidates and its checks read it by name, not by ref(): the log is built from the
    candidates (a ref would be a cycle). Before the first contact_log build it is an empty
    relation of the same columns. -#}
{% macro contact_log_before_as_of(days=none) -%}
    {%- set existing = existing_contact_log() -%}
    {%- if not execute -%}
        (select 1 as as_of_date)
    {%- elif existing is not none -%}
        (select {% for name, _ in contact_log_columns() %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
         from {{ existing }} where as_of_date < {{ act_day() }}
         {%- if days is not none %} and as_of_date >= {{ act_day(-(days | int)) }}{% endif %})
    {%- else -%}
        (select {% for name, type in contact_log_columns() %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
         where 1 = 0)
    {%- endif -%}
{%- endmacro %}

{#- The contacts (queued or held out) of the days before the as-of date that `rule` can count:
    'repeats', 'cooldowns' or 'caps', each bounded by its longest window (the log grows every
    day; the rules that look at every earlier day read contact_log_keys instead). -#}
{% macro contact_log_recent(rule) -%}
    (select customer_id, campaign, category, dedupe_key, state, channel, as_of_date
     from {{ contact_log_before_as_of(contact_log_lookback_days(rule)) }} as h
     where state in ('queued', 'holdout'))
{%- endmacro %}

{#- contact_log's relation if it exists in the warehouse (none before its first build, and at
    parse time). -#}
{% macro existing_contact_log() -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == 'contact_log' -%}
            {%- do found.append(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(found[0] if found else none) -}}
{%- endmacro %}

{#- Where contact_log_keys lives: beside the touched keys in `pipeline`, not in `marts` (it is the
    log's bookkeeping, not a mart to serve or compare). -#}
{% macro contact_log_keys_relation(contact_log) -%}
    {{- return(contact_log.incorporate(path={'schema': 'pipeline', 'identifier': 'contact_log_keys'})) -}}
{%- endmacro %}

{#- The keys (customer_id, campaign, dedupe_key) contacted on any day before the as-of date, as a
    subquery: from contact_log_keys (each key's first contact day, kept by contact_log's post-hook
    in the log's own transaction) where it exists, else from the whole log. -#}
{% macro contact_log_keys_before_as_of() -%}
    {%- set keys = existing_contact_log() -%}
    {%- if keys is not none -%}
        {%- set keys = contact_log_keys_relation(keys) -%}
        {%- set keys = adapter.get_relation(database=keys.database, schema=keys.schema, identifier=keys.identifier) -%}
    {%- endif -%}
    {%- if keys is not none and target.type != 'spark' -%}
        (select customer_id, campaign, dedupe_key from {{ keys }} where first_on < {{ act_day() }})
    {%- else -%}
        (select distinct customer_id, campaign, dedupe_key from {{ contact_log_before_as_of() }} as h)
    {%- endif -%}
{%- endmacro %}

{#- The products `campaign` (new_arrival or vip_early_access) already announced to a customer on an
    earlier day, among those of the relation `offered` (column product_id), as a subquery of
    distinct (customer_id, product_id). The keys are '<campaign>:<product_id>[,<product_id>...]'
    with up to 3 products. -#}
{% macro announced_products(campaign, offered) -%}
    {%- set keys = contact_log_keys_before_as_of() -%}
    (select distinct customer_id, product_id
     from (
        {%- for part in [1, 2, 3] %}
        select
            customer_id,
            {{ dbt.split_part("substr(dedupe_key, " ~ (campaign | length + 2) ~ ") || ',,'", "','", part) }} as product_id
        from {{ keys }} as k
        where campaign = '{{ campaign }}'
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
     ) as named
     where product_id in (select product_id from {{ offered }}))
{%- endmacro %}

{#- The longest look-back, in days, of the contact policy's windowed rules of the preset in force:
    `what` = 'repeats' (campaign_repeat_days), 'cooldowns' (the seed's cooldown_days) or 'caps'
    (the seed's window_days). A read of the log bounded by it sees every contact a rule counts. -#}
{% macro contact_log_lookback_days(what) -%}
    {%- set preset = act_text(run_var('contact_policy_preset', 'daily_use')) -%}
    {%- if what == 'repeats' -%}
        {%- set days = [0] -%}
        {%- for value in campaign_repeat_days().values() %}{% do days.append(value | int) %}{% endfor -%}
        {{- return(days | max) -}}
    {%- elif not execute -%}
        {{- return(0) -}}
    {%- endif -%}
    {%- set sql = {
        'cooldowns': "select max(cooldown_days) from " ~ ref('contact_policy_campaigns') ~ " where preset = " ~ preset,
        'caps': "select max(window_days) from " ~ ref('contact_policy_caps') ~ " where preset = " ~ preset,
    }[what] -%}
    {%- set value = run_query(sql).columns[0].values()[0] -%}
    {{- return((value or 0) | int) -}}
{%- endmacro %}

{#- The campaigns' categories: fixed in code (a service message may skip marketing consent and
    caps, so it must not be configurable by accident in a seed). -#}
{% macro campaign_categories() -%}
    {{- return({
        "first_purchase_thanks": "service",
        "second_purchase_nudge": "marketing",
        "replenishment": "marketing",
        "birthday": "marketing",
        "vip_early_access": "marketing",
        "new_arrival": "marketing",
        "after_sales_followup": "service",
        "win_back": "marketing",
        "win_back_high_value": "marketing",
        "surprise_reward": "marketing",
        "abandoned_checkout": "marketing",
        "delivery_apology": "service",
    }) -}}
{%- endmacro %}

{% macro marketing_campaigns() -%}
    {%- set names = [] -%}
    {%- for name, category in campaign_categories().items() if category == 'marketing' -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{- return(names) -}}
{%- endmacro %}

{#- A campaign's repeat window in days (none: the same key never repeats): win-back 90 days,
    surprise reward 30, abandoned checkout 14 (settings). -#}
{% macro campaign_repeat_days() -%}
    {{- return({
        "win_back": run_var("win_back_cooldown_days", 90),
        "win_back_high_value": run_var("win_back_cooldown_days", 90),
        "surprise_reward": run_var("surprise_reward_min_gap_days", 30),
        "abandoned_checkout": run_var("abandoned_checkout_repeat_days", 14),
    }) -}}
{%- endmacro %}

{#- `case campaign when ... then <days> end`: null for the keys that never repeat. -#}
{% macro campaign_repeat_days_sql(column) -%}
    case {{ column }}
    {%- for name, days in campaign_repeat_days().items() %}
        when '{{ name }}' then {{ days | int }}
    {%- endfor %}
    end
{%- endmacro %}

{#- The contact-policy seeds of the preset in force, checked before anything is decided: a typo in
    an edited seed stops the build with a message instead of sending nothing (or too much). -#}
{% macro assert_contact_policy() -%}
    {%- if execute -%}
    {%- set preset = run_var("contact_policy_preset", "daily_use") -%}
    {%- set presets = ref("contact_policy_presets") -%}
    {%- set rows = run_query("select preset, earliest_send_hour, latest_send_hour from " ~ presets
                              ~ " order by preset") -%}
    {%- set known = rows.columns[0].values() | list -%}
    {%- if preset not in known -%}
        {{ exceptions.raise_compiler_error("contact_policy_preset '" ~ preset ~ "' is not in "
            ~ presets ~ " (known: " ~ known | join(", ") ~ ")") }}
    {%- endif -%}
    {%- for row in rows.rows if row[0] == preset -%}
        {%- if row[1] is none or row[2] is none or not (0 <= row[1] <= row[2] <= 23) -%}
            {{ exceptions.raise_compiler_error("preset '" ~ preset ~ "': need 0 <= earliest_send_hour <= latest_send_hour <= 23") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set campaigns = run_query("select campaign, channels from " ~ ref("contact_policy_campaigns")
                                  ~ " where preset = " ~ act_text(preset) ~ " order by campaign") -%}
    {%- set caps = run_query("select channel from " ~ ref("contact_policy_caps")
                             ~ " where preset = " ~ act_text(preset)) -%}
    {%- set categories = campaign_categories() -%}
    {%- set channels = ["email", "sms", "push", "wechat"] -%}
    {%- set seen = [] -%}
    {%- set unknown = [] -%}
    {%- set twice = [] -%}
    {%- set bad_channels = [] -%}
    {%- for row in campaigns.rows -%}
        {%- if row[0] not in categories and row[0] not in unknown %}{% do unknown.append(row[0]) %}{% endif -%}
        {%- if row[0] in seen and row[0] not in twice %}{% do twice.append(row[0]) %}{% endif -%}
        {%- do seen.append(row[0]) -%}
        {%- for channel in (row[1] or "").split("|") if channel.strip() not in channels and channel.strip() not in bad_channels -%}
            {%- do bad_channels.append(channel.strip()) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for row in caps.rows if row[0] not in channels and row[0] not in bad_channels -%}
        {%- do bad_channels.append(row[0]) -%}
    {%- endfor -%}
    {%- set problems = [] -%}
    {%- if unknown %}{% do problems.append("unknown campaign(s) " ~ unknown | sort | join(", ")) %}{% endif -%}
    {%- if twice %}{% do problems.append("campaign(s) listed twice " ~ twice | sort | join(", ")) %}{% endif -%}
    {%- if bad_channels %}{% do problems.append("unknown channel(s) " ~ bad_channels | map("string") | sort | join(", ")
                                                ~ " (known: " ~ channels | join(", ") ~ ")") %}{% endif -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error("contact-policy seeds, preset '" ~ preset ~ "': " ~ problems | join("; ")) }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- contact_log's pre-hook: building a day again first clears that day (in the model's transaction
    on DuckDB and PostgreSQL; on Spark the day's Parquet partition is dropped, so a day that now
    has no contacts is emptied too). Nothing on the first build. -#}
{% macro contact_log_clear_day() -%}
    {{ return(adapter.dispatch('contact_log_clear_day')()) }}
{%- endmacro %}

{% macro default__contact_log_clear_day() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where as_of_date = {{ act_day() }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{% macro spark__contact_log_clear_day() -%}
    {%- if is_incremental() -%}
    alter table {{ this }} drop if exists partition (as_of_date = '{{ run_var("as_of", run_started_at.strftime("%Y-%m-%d")) }}')
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- contact_log's post-hooks: `contact_log_keys` holds each key (customer_id, campaign, dedupe_key)
    with the first day it was contacted, so the rules that look at every earlier day (a message
    sent once per key, the products already announced, a replenishment reminder already sent)
    read one row per key instead of grouping the whole log every morning. Kept in the log's own
    transaction (DuckDB, PostgreSQL): a crash leaves both or neither. A key whose first contact is
    on or after the day just built is recomputed from the log's rows of those days; the others
    cannot have changed. Created from the whole log when missing (a first build, or dropped by
    hand after contacts were added to the log outside the pipeline). Spark keeps no such table:
    the readers group the log there. -#}
{% macro contact_log_keep_keys(step) -%}
    {%- if target.type == 'spark' -%}
    select 1
    {%- else -%}
    {%- set keys = contact_log_keys_relation(this) -%}
    {%- if step == 'schema' -%}
    create schema if not exists {{ keys.include(database=false, identifier=false) }}
    {%- elif step == 'create' -%}
    create table if not exists {{ keys }} as
    select customer_id, campaign, dedupe_key, min(as_of_date) as first_on
    from {{ this }}
    group by customer_id, campaign, dedupe_key
    {%- elif step == 'clear' -%}
    delete from {{ keys }} where first_on >= {{ act_day() }}
    {%- else -%}
    insert into {{ keys }} (customer_id, campaign, dedupe_key, first_on)
    select l.customer_id, l.campaign, l.dedupe_key, min(l.as_of_date)
    from {{ this }} as l
    where l.as_of_date >= {{ act_day() }}
      and not exists (
          select 1 from {{ keys }} as k
          where k.customer_id = l.customer_id and k.campaign = l.campaign
            and k.dedupe_key = l.dedupe_key)
    group by l.customer_id, l.campaign, l.dedupe_key
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
