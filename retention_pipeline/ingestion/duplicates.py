"""Exact and conflicting duplicates: which valid rows of a batch are new, repeated or contradictory.

The batch is the chunk of new files read together (load.py; usually the day's files). Content =
every typed column of the entity (not `_extra`: a shop that adds a column to its export does not
turn its re-sent rows into conflicts). Key = the entity's id (schema.key). For each row that
passed the row rules, in this order:

1. identical (same key and content) to a row already in raw -> `duplicate` (not appended again);
2. same key and same updated_at (both null counts as same) as a row in raw, different content
   -> quarantined `conflicting_duplicate` (the version in raw stays);
3. same key and updated_at as another row of the batch, different content -> every such row is
   quarantined `conflicting_duplicate` (nothing says which one is right);
4. a repeat of an identical earlier row of the batch -> `duplicate` (the first is kept);
5. otherwise `loaded`. A later updated_at is a new version: appended (raw keeps every version).

Only rows whose key may collide go through these rules ("suspects"; the rest are loaded, or
quarantined by the row rules, as they are). A first pass over the files reads the key columns
alone (Parquet reads no other column) and hashes the keys: a key is suspect when its hash occurs
more than once in the batch or occurs in raw (for order_items: the order, when one of its line
keys repeats within a file, it is in more than one file of the batch, or raw has lines of it).
Repeats within the batch are found by sorting the hashes and comparing each with the one before:
on a first load of 100 M events that costs half of counting per hash (a hash table of 100 M
groups). A
key whose hash is unique in the batch and absent from raw cannot be a duplicate or a conflict, so
the rules above would load it; a hash collision only makes an innocent key suspect, which the
exact rules then settle. So the outcome is the same as classifying every row, while the window
sorts and the join against raw cover the few suspect rows (on a first load of years of history,
only real repeats), not the whole batch.

Events have no updated_at: same event_id with different content is always a conflict.
order_items have no version stamp either: the lines of an order are replaced as a set by the next
file that sends the order (stg_shop__order_items). So within a file, the same (order_id, line_id,
or product_id when there is no line id) with different content conflicts; and a file's set of
lines of an order that equals the set sent before (by the previous file of the batch, else the
latest load in raw) is `duplicate`; otherwise the whole set is appended as the order's new lines.
"""

from __future__ import annotations

from retention_pipeline.ingestion.readers import FILES_TABLE
from retention_pipeline.ingestion.schema import EntitySchema, raw_table
from retention_pipeline.ingestion.validate import CHECKED_TABLE, trimmed_text

CLASSIFIED_TABLE = "_ingest_classified"  # a view: every checked row with its outcome
SUSPECTS_TABLE = "_ingest_suspects"  # hashes of the keys that may collide
SUSPECT_ROWS_TABLE = "_ingest_suspect_rows"  # the checked rows of those keys
SETTLED_TABLE = "_ingest_settled"  # those rows classified by the rules above
TEMP_TABLES = (SUSPECTS_TABLE, SUSPECT_ROWS_TABLE, SETTLED_TABLE)

# One window pass finds both batch cases. Narrow rows are partitioned by (pending, key[, version])
# and ordered by content hash, then position: a partition holds different contents when its first
# and last hash differ (a conflict); a row whose predecessor has the same hash repeats it (a copy).
# Rows that are not pending (quarantined, or settled against raw) sit in partitions of their own.
# The hash is only compared within this run, never stored.
_IN_BATCH = """
            CASE WHEN _pending THEN first_value(_h) OVER whole <> last_value(_h) OVER whole
                 ELSE false END AS _conflict,
            CASE WHEN _pending THEN coalesce(lag(_h) OVER ordered = _h, false)
                 ELSE false END AS _copy"""
_WINDOWS = """
            WINDOW ordered AS (PARTITION BY {partition} ORDER BY _h, _id),
                   whole AS (ordered ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"""
_QUOTE = "''''"  # a SQL literal holding one single quote


def _suspect_columns(schema: EntitySchema) -> list[str]:
    """The columns whose hash decides suspicion: the key, or for order_items the order."""
    if schema.replaced_per:
        return [schema.replaced_per]
    return [k.removeprefix("{a}.") for k in schema.key]


def suspects_table_sql(schema: EntitySchema, landed: str, raw_has_rows: bool) -> str:
    """CREATE the temp table of suspect key hashes, from `landed` (the chunk's rows of text)."""
    columns = _suspect_columns(schema)
    h = f"hash({', '.join(trimmed_text(c) for c in columns)})"
    in_raw, key_text = "", ""
    if raw_has_rows:
        # Joined on the key itself, not its hash: the planner builds the hash table on the
        # chunk's (few, in a daily run) keys and pushes their min and max into the scan of raw,
        # whose zone maps then skip the row groups of older keys (ids mostly grow).
        on = " AND ".join(f"r.{c} = b._k{i}" for i, c in enumerate(columns))
        key_text = "".join(f", {trimmed_text(c)} AS _k{i}" for i, c in enumerate(columns))
        keys = ", ".join(f"_k{i}" for i in range(len(columns)))
        in_raw = f"""
            UNION
            SELECT DISTINCT b.h FROM (SELECT DISTINCT h, {keys} FROM keys) b
            JOIN {raw_table(schema.name)} r ON {on}"""
    if schema.replaced_per:
        line = trimmed_text("line_id"), trimmed_text("product_id")
        line_h = f"hash({trimmed_text(schema.replaced_per)}, coalesce({line[0]}, {line[1]}))"
        # Sorted by order, file and line: a line key repeated within a file sits next to its
        # repeat, and an order sent in two files has a neighbour from another file.
        repeated = _repeated_sql(
            ["h", "_file", "_line_h"], "(_file <> _before_file OR _line_h = _before_line_h)"
        )
        selected = f"_file, {h} AS h, {line_h} AS _line_h{key_text}"
    else:
        repeated = _repeated_sql(["h"])
        selected = f"{h} AS h{key_text}"
    return f"""
        CREATE OR REPLACE TEMP TABLE {SUSPECTS_TABLE} AS
        WITH keys AS MATERIALIZED (SELECT {selected} FROM ({landed}))
        {repeated}
        {in_raw}
    """


def _repeated_sql(order: list[str], also: str = "true") -> str:
    """The hashes that repeat within the batch: equal to the hash of the row before them in
    `order` (the first column is h) and meeting `also`, where `_before_<name>` is the previous
    row's value of a column of `order` (leading underscore dropped)."""
    before = ", ".join(f"lag({c}) OVER sorted AS _before_{c.lstrip('_')}" for c in order)
    return f"""
            SELECT DISTINCT h FROM (
                SELECT {", ".join(order)}, {before} FROM keys
                WINDOW sorted AS (ORDER BY {", ".join(order)})
            ) WHERE h = _before_h AND {also}"""


def suspect_sql(schema: EntitySchema) -> str:
    """SQL over validate.py's trimmed columns (`s__<name>`): the row's key is suspect."""
    columns = ", ".join(f'"s__{c}"' for c in _suspect_columns(schema))
    return f"(hash({columns}) IN (SELECT h FROM {SUSPECTS_TABLE}))"


def collect_suspects_sql(schema: EntitySchema, first: bool) -> str:
    """SQL run after each slice's checked table exists (load.py): its suspect rows, with the key
    columns `_k1..` the rules compare, join those of the earlier slices of the chunk (`first`:
    the table is created). They are settled together once every slice is read
    (`settle_statements`)."""
    keys = ", ".join(f"{expr} AS _k{i + 1}" for i, expr in enumerate(schema.key_sql("c")))
    rows = f"SELECT *, {keys} FROM {CHECKED_TABLE} c WHERE _suspect"
    if first:
        return f"CREATE OR REPLACE TEMP TABLE {SUSPECT_ROWS_TABLE} AS {rows}"
    return f"INSERT INTO {SUSPECT_ROWS_TABLE} {rows}"


def classify_unsuspected_sql() -> str:
    """`_ingest_classified` over a slice: its rows that are not suspect, with `_outcome` (loaded,
    or quarantined by a row rule: their key cannot collide with anything)."""
    return f"""CREATE OR REPLACE TEMP VIEW {CLASSIFIED_TABLE} AS
            SELECT * EXCLUDE (_reason, _detail),
                   CASE WHEN _reason IS NULL THEN 'loaded' ELSE 'quarantined' END AS _outcome,
                   _reason, _detail
            FROM {CHECKED_TABLE} WHERE NOT _suspect"""


def settle_statements(schema: EntitySchema) -> list[str]:
    """SQL run once the chunk's suspect rows are collected: they are classified by the rules
    above, and `_ingest_classified` becomes those rows with `_outcome`, `_reason`, `_detail`."""
    settle = _per_order_sql(schema) if schema.replaced_per else _versioned_sql(schema)
    return [
        settle,
        f"""CREATE OR REPLACE TEMP VIEW {CLASSIFIED_TABLE} AS
            SELECT * EXCLUDE ({", ".join(_key_columns(schema))}) FROM {SETTLED_TABLE}""",
    ]


def _key_columns(schema: EntitySchema, alias: str | None = None) -> list[str]:
    prefix = f"{alias}." if alias else ""
    return [f"{prefix}_k{i + 1}" for i in range(len(schema.key))]


def _same(left: str, right: str, columns) -> str:
    return " AND ".join(f'{left}."{c}" IS NOT DISTINCT FROM {right}."{c}"' for c in columns)


def _content(alias: str, schema: EntitySchema) -> str:
    return ", ".join(f'{alias}."{c}"' for c in schema.column_names)


def _key_equals_raw(schema: EntitySchema, batch: str, raw: str) -> str:
    pairs = zip(_key_columns(schema, batch), schema.key_sql(raw), strict=True)
    return " AND ".join(f"{b} = {r}" for b, r in pairs)


def _keys_match(schema: EntitySchema, left: str, right: str) -> str:
    pairs = zip(_key_columns(schema, left), _key_columns(schema, right), strict=True)
    return " AND ".join(f"{a} = {b}" for a, b in pairs)


def _describe_key(schema: EntitySchema, alias: str) -> str:
    """SQL text naming a row's id for a detail message, e.g. order_id 'O1'."""
    return f"'{schema.column_names[0]} ' || {_QUOTE} || {alias}._k1 || {_QUOTE}"


def _conflict_places(group_by: str) -> str:
    """Where the conflicting rows of a group are, e.g. 'orders/d1.csv:3, orders/d2.csv:7'."""
    return f"""
        conflict_places AS (
            SELECT {group_by},
                   string_agg(f.source_file || ':' || w._row, ', ' ORDER BY w._id) AS _places
            FROM windowed w JOIN {FILES_TABLE} f USING (_file)
            WHERE w._conflict GROUP BY ALL
        )"""


def _versioned_sql(schema: EntitySchema) -> str:
    keys = ", ".join(_key_columns(schema))
    if schema.version:
        version = f'"{schema.version}"'
        same_version = f'v."{schema.version}" IS NOT DISTINCT FROM r."{schema.version}"'
        stamp = f"the same {schema.version}"
    else:
        version, same_version, stamp = "NULL", "true", "no version stamp"
    return f"""
        CREATE OR REPLACE TEMP TABLE {SETTLED_TABLE} AS
        WITH raw_match AS (
            SELECT v._id,
                   bool_or({_same("v", "r", schema.column_names)}) AS _in_raw,
                   bool_or({same_version}) AS _raw_same_version,
                   min(CASE WHEN {same_version} THEN r._source_file
                            || coalesce(':' || r._source_line, '') END) AS _raw_where
            FROM {SUSPECT_ROWS_TABLE} v
            JOIN {raw_table(schema.name)} r ON {_key_equals_raw(schema, "v", "r")}
            WHERE v._reason IS NULL
            GROUP BY v._id
        ),
        settled AS (
            -- narrow rows: the window sorts only what it needs, the payload is joined back after
            SELECT c._id, c._file, c._row, {keys}, {version} AS _version,
                   hash({_content("c", schema)}) AS _h,
                   coalesce(m._in_raw, false) AS _in_raw,
                   coalesce(m._raw_same_version AND NOT m._in_raw, false) AS _conflicts_raw,
                   m._raw_where,
                   c._reason IS NULL
                       AND NOT coalesce(m._in_raw OR m._raw_same_version, false) AS _pending
            FROM {SUSPECT_ROWS_TABLE} c LEFT JOIN raw_match m USING (_id)
        ),
        windowed AS (
            SELECT *, {_IN_BATCH}
            FROM settled
            {_WINDOWS.format(partition=f"_pending, {keys}, _version")}
        ),
        {_conflict_places(f"{keys}, _version")}
        SELECT c.* EXCLUDE (_reason, _detail),
            CASE
                WHEN c._reason IS NOT NULL THEN 'quarantined'
                WHEN w._in_raw THEN 'duplicate'
                WHEN w._conflicts_raw OR w._conflict THEN 'quarantined'
                WHEN w._copy THEN 'duplicate'
                ELSE 'loaded'
            END AS _outcome,
            CASE
                WHEN c._reason IS NOT NULL THEN c._reason
                WHEN w._in_raw THEN NULL
                WHEN w._conflicts_raw OR w._conflict THEN 'conflicting_duplicate'
            END AS _reason,
            CASE
                WHEN c._reason IS NOT NULL THEN c._detail
                WHEN w._in_raw THEN NULL
                WHEN w._conflicts_raw THEN {_describe_key(schema, "w")}
                    || ' differs from the version in raw with {stamp} (' || w._raw_where || ')'
                WHEN w._conflict THEN {_describe_key(schema, "w")}
                    || ' has different rows with {stamp} (' || x._places || ')'
            END AS _detail
        FROM {SUSPECT_ROWS_TABLE} c
        JOIN windowed w USING (_id)
        LEFT JOIN conflict_places x
          ON {_keys_match(schema, "w", "x")} AND w._version IS NOT DISTINCT FROM x._version
    """


def _per_order_sql(schema: EntitySchema) -> str:
    keys = ", ".join(_key_columns(schema))
    group = f'"{schema.replaced_per}"'
    return f"""
        CREATE OR REPLACE TEMP TABLE {SETTLED_TABLE} AS
        WITH settled AS (
            SELECT c._id, c._file, c._row, {keys}, c.{group}, hash({_content("c", schema)}) AS _h,
                   c._reason IS NULL AS _pending
            FROM {SUSPECT_ROWS_TABLE} c
        ),
        windowed AS (
            SELECT *, {_IN_BATCH}
            FROM settled
            {_WINDOWS.format(partition=f"_pending, _file, {keys}")}
        ),
        file_sets AS (
            -- each file's set of lines per order, as the sorted list of their content hashes
            SELECT _file, {group}, list(_h ORDER BY _h) AS _set
            FROM windowed WHERE _pending AND NOT _conflict AND NOT _copy
            GROUP BY ALL
        ),
        raw_sets AS (
            SELECT {group}, list(_h ORDER BY _h) AS _set
            FROM (
                SELECT r.{group}, hash({_content("r", schema)}) AS _h
                FROM {raw_table(schema.name)} r
                WHERE r.{group} IN (SELECT {group} FROM file_sets)
                QUALIFY dense_rank() OVER (
                    PARTITION BY r.{group} ORDER BY r._ingested_at DESC, r._source_file DESC) = 1
            )
            GROUP BY ALL
        ),
        unchanged AS (
            SELECT _file, {group}
            FROM (
                SELECT s._file, s.{group}, s._set,
                       coalesce(lag(s._set) OVER (PARTITION BY s.{group} ORDER BY s._file),
                                r._set) AS _previous
                FROM file_sets s LEFT JOIN raw_sets r USING ({group})
            )
            WHERE _set = _previous
        ),
        {_conflict_places(f"_file, {keys}")}
        SELECT c.* EXCLUDE (_reason, _detail),
            CASE
                WHEN c._reason IS NOT NULL THEN 'quarantined'
                WHEN w._conflict THEN 'quarantined'
                WHEN w._copy THEN 'duplicate'
                WHEN u._file IS NOT NULL THEN 'duplicate'
                ELSE 'loaded'
            END AS _outcome,
            CASE
                WHEN c._reason IS NOT NULL THEN c._reason
                WHEN w._conflict THEN 'conflicting_duplicate'
            END AS _reason,
            CASE
                WHEN c._reason IS NOT NULL THEN c._detail
                WHEN w._conflict THEN '{schema.replaced_per} ' || {_QUOTE} || c.{group} || {_QUOTE}
                    || ' has different rows for the same line (' || x._places || ')'
            END AS _detail
        FROM {SUSPECT_ROWS_TABLE} c
        JOIN windowed w USING (_id)
        LEFT JOIN unchanged u ON u._file = c._file AND u.{group} = c.{group}
        LEFT JOIN conflict_places x ON x._file = w._file AND {_keys_match(schema, "w", "x")}
    """
