"""Row rules: typing the landed text and naming what is wrong with a row, in one SQL pass.

A row that breaks a rule goes to `raw.quarantine` with the code of the first rule it breaks (in
the order of REASONS) and a detail naming the column and the value. Reason codes:

- `malformed_row`: a JSON Lines line that is not a JSON object.
- `missing_key`: an id or another required value is empty (required columns; an order's
  customer_id may be empty: a guest order).
- `bad_timestamp`: not an ISO 8601 timestamp (YYYY-MM-DD[Thh:mm[:ss[.f]]][Z|±hh[:mm]|zone name]).
- `bad_date`: birthday or promised_delivery_date is not an ISO 8601 date.
- `bad_boolean`: an accepts_* consent that is not one of true/false, t/f, yes/no, y/n, 1/0.
- `bad_number`: an amount, price or quantity that is not a plain decimal number (a quantity must
  be whole); thousands separators, hex and `inf`/`nan` are rejected.
- `bad_json`: events.properties is not a JSON object.
- `negative_amount`: total/discount/refunded amount, price or unit price below zero.
- `negative_quantity`: an order line quantity below zero.
- `absurd_value`: an amount or price above AMOUNT_LIMIT, a quantity above QUANTITY_LIMIT, an
  ordered_at / occurred_at before EARLIEST_TIMESTAMP (1990: an epoch default or a parse error).
- `future_timestamp`: ordered_at / occurred_at more than a day after the end of the batch date
  (the run's as-of), or after now + 1 day in a backfill (see `future_cutoff`).
- `delivery_before_order`: an order's shipped_at or delivered_at before its ordered_at, or its
  delivered_at before its shipped_at (a clock or typing error: the delivery time would be
  negative).
- `conflicting_duplicate`: same id, different content and no later updated_at to order them,
  within the batch (the files read together) or against raw (set in duplicates.py).

Field level: a bad value of an optional column marked `field_level` in schema.py (customers'
created_at, birthday and accepts_*; products.launched_at; events.properties) does not quarantine
the row. The value is set to null, the row is loaded, and `raw.quarantine` gets a record with
level `field`, the column, the reason code above and the value as sent (`_fields` below). Such
records are counted apart (`fields_nulled`): they are not rows, so loaded + quarantined +
duplicate = read holds per row, and they do not count towards the quarantine threshold (a feed
that sends bad birthdays is not a broken feed). Ids, required values, version stamps and money
stay row-level: nulling them would change what the row means.

Kept and counted, never quarantined: orders of customers not in raw.customers
(`orders_unknown_customer`), order statuses neither canonical (docs/metrics.md#inputs) nor mapped by the seed
order_status_map (`orders_unknown_status`; a missing status stays null, staging reads it as
completed) and unknown event types (`events_unknown_type`). An unknown status is kept rather than
quarantined because a shop-specific status is not wrong data: once the shop maps it in the seed,
its orders count; until then dbt marks them invalid (`unknown_status`) and a warning names it.
"""

from __future__ import annotations

import datetime as dt

from retention_pipeline.ingestion.readers import native_text, raw_row_sql
from retention_pipeline.ingestion.schema import (
    AMOUNT_LIMIT,
    EARLIEST_TIMESTAMP,
    FALSE_WORDS,
    FUTURE_TOLERANCE,
    QUANTITY_LIMIT,
    TRUE_WORDS,
    Column,
    EntitySchema,
)

REASONS: dict[str, str] = {
    "malformed_row": "a JSON Lines line that is not a JSON object",
    "missing_key": "an id or a required value is empty",
    "bad_timestamp": "a timestamp that is not ISO 8601",
    "bad_date": "a date that is not ISO 8601 (YYYY-MM-DD)",
    "bad_boolean": "a consent flag that is not a boolean",
    "bad_number": "an amount, price or quantity that is not a number (quantity: a whole number)",
    "bad_json": "events.properties that is not a JSON object",
    "negative_amount": "an amount or price below zero",
    "negative_quantity": "a quantity below zero",
    "absurd_value": f"an amount above {AMOUNT_LIMIT:,}, a quantity above {QUANTITY_LIMIT:,}, "
    f"or an order / event time before {EARLIEST_TIMESTAMP:%Y-%m-%d}",
    "future_timestamp": "ordered_at / occurred_at after the run's cutoff (as-of end + 1 day)",
    "delivery_before_order": "shipped_at / delivered_at before ordered_at, or delivered before "
    "shipped",
    "conflicting_duplicate": "same id, different content, no later updated_at to order them",
}

CHECKED_TABLE = "_ingest_checked"

_ISO_DATE_START = r"^\d{4}-\d{2}-\d{2}"
_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}"


def future_cutoff(batch_date: dt.date, now: dt.datetime) -> dt.datetime:
    """The latest ordered_at / occurred_at accepted: one day after the end of the batch day.

    A backfill loads today's files while running for an old day; rows after that old day are
    real, and staging ignores them for that day. Quarantining them would lose them for good (the
    file is then skipped as already ingested), so the reference end is never earlier than now.
    """
    batch_end = dt.datetime.combine(batch_date + dt.timedelta(days=1), dt.time())
    return max(batch_end, now) + FUTURE_TOLERANCE


def checked_table_sql(
    schema: EntitySchema, cutoff: dt.datetime, landed: str, suspect: str
) -> str:
    """CREATE the temp table of the chunk's typed rows (from `landed`, the SQL of the chunk's
    rows of text, readers.py) with `_id` (row id in the chunk, in file and row order), `_file`,
    `_row`, `_reason`, `_detail`, `_fields` (the field-level problems: a list
    of (column_name, reason, value, detail); null when none), `_suspect` (the SQL condition
    `suspect` over the trimmed columns: the row's key may collide, duplicates.py) and `_raw_row`
    (the row as sent, kept only for rows that fail or are suspect: the others are loaded).

    This is the one pass over the files' rows. Layered so that each value is trimmed, cast and
    parsed once: the rule chain then only compares prepared columns, and the detail text is
    built for failing rows only.
    """
    cols = schema.columns
    cleaned = _lines(f"{_cleaned(c)} AS {_s(c)}" for c in cols)
    # Numbers as doubles (range checks) and JSON minified (equal objects then compare equal as
    # text), each computed once. try(json()) is null for invalid JSON with a single parse
    # (json_valid first would parse every value twice: seconds on a hundred million events).
    decoded = _lines(
        [f"TRY_CAST({_s(c)} AS DOUBLE) AS {_n(c)}" for c in cols if _numeric(c)]
        + [
            f"try(json({_s(c)})) AS {_j(c)}"
            for c in cols
            if c.kind == "json_object"
        ]
        or ["NULL AS _nothing_decoded"]
    )
    parsed = _lines(f'{_typed(c)} AS "{c.name}"' for c in cols)
    checks = _checks(schema, cutoff)
    failure = "CASE " + " ".join(f"WHEN {cond} THEN '{key}'" for key, cond, _ in checks) + " END"
    detail = (
        "CASE WHEN _failure IS NULL THEN NULL "
        + " ".join(f"WHEN _failure = '{key}' THEN {text}" for key, _, text in checks)
        + " END"
    )
    names = ", ".join(f'"{n}"' for n in schema.column_names)
    return f"""
        CREATE OR REPLACE TEMP TABLE {CHECKED_TABLE} AS
        WITH landed AS (
            SELECT (CAST(_file AS BIGINT) << 40) + _row AS _id, * FROM ({landed})
        ),
        cleaned AS (
            SELECT *, {cleaned} FROM landed
        ),
        decoded AS (
            SELECT *, {decoded} FROM cleaned
        ),
        parsed AS (
            SELECT *, {parsed} FROM decoded
        ),
        failed AS (
            SELECT *, {failure} AS _failure, {suspect} AS _suspect FROM parsed p
        )
        SELECT _id, _file, _row, {names}, _extra,
            split_part(_failure, ':', 1) AS _reason,
            {detail} AS _detail,
            {_field_failures(schema)} AS _fields,
            _suspect,
            CASE WHEN _failure IS NOT NULL OR _suspect THEN {raw_row_sql(schema)} END AS _raw_row
        FROM failed
    """


def trimmed_text(column: str) -> str:
    """SQL: a column's text as sent, trimmed, empty = null (what an id becomes when typed)."""
    return _trimmed(_v(Column(column)))


# A native timestamp (readers.py) in this range renders as an ISO 8601 text that parses back to
# the same instant, so it is taken as it is; outside it (year 0, BC, infinity) it goes the way
# of its text, as it always did.
_NATIVE_RANGE = "BETWEEN TIMESTAMPTZ '1000-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-31 00:00:00+00'"


def _native_ok(c: Column) -> str:
    return f'("t__{c.name}" {_NATIVE_RANGE})'


def _cleaned(c: Column) -> str:
    """SQL: the trimmed text, empty = null. A native timestamp in range has no text to check
    (its text is never empty): '' stands for it, and `_typed` takes the value itself."""
    if c.kind != "timestamp":
        return _trimmed(_v(c))
    t = f'"t__{c.name}"'
    return (f"CASE WHEN {t} IS NULL THEN {_trimmed(_v(c))} WHEN {_native_ok(c)} THEN '' "
            f"ELSE CAST({t} AS VARCHAR) END")


def _trimmed(v: str) -> str:
    # trim() is costly on every value; most values have no edge spaces, so test for them first.
    edges = f"starts_with({v}, ' ') OR ends_with({v}, ' ')"
    return f"nullif(CASE WHEN {edges} THEN trim({v}) ELSE {v} END, '')"


def _v(c: Column) -> str:
    return f'"v__{c.name}"'  # the text as sent


def _text(c: Column) -> str:
    return native_text(c.name) if c.kind == "timestamp" else _v(c)


def _s(c: Column) -> str:
    return f'"s__{c.name}"'  # trimmed, empty = null


def _n(c: Column) -> str:
    return f'"n__{c.name}"'  # as a double, for range checks


def _j(c: Column) -> str:
    return f'"j__{c.name}"'  # minified JSON, null when not valid JSON


def _numeric(c: Column) -> bool:
    return c.kind in ("decimal", "integer")


def _is_object(c: Column) -> str:
    # json() minifies: its text starts with '{' exactly when the value is an object (cheaper
    # than json_type, which parses again).
    return f"starts_with(CAST({_j(c)} AS VARCHAR), '{{')"


def _number_ok(c: Column) -> str:
    # DuckDB's DOUBLE cast takes plain and scientific notation (and rejects thousands separators
    # and hex); it also takes inf/nan and digit separators '_', which are not numbers to a shop.
    return f"({_n(c)} IS NOT NULL AND isfinite({_n(c)}) AND NOT contains({_s(c)}, '_'))"


def _typed(c: Column) -> str:
    v, s = _v(c), _s(c)
    match c.kind:
        case "id":
            return s
        case "text":
            return f"nullif({v}, '')"
        case "lower_text":
            return f"lower({s})"
        case "timestamp":
            native = f'make_timestamp(epoch_us("t__{c.name}"))'
            # The instant's epoch as a naive timestamp is naive UTC (cheaper than timezone('UTC',
            # ..), which goes through ICU). A value without offset is parsed in the session time
            # zone, which load.py pins to UTC: no offset means UTC (docs/metrics.md#inputs).
            # The pattern keeps out what the cast takes but ISO 8601 does not ('epoch',
            # '2024/01/31').
            return (
                f"CASE WHEN {_native_ok(c)} THEN {native} "
                f"WHEN regexp_matches({s}, '{_ISO_DATE_START}') "
                f"THEN make_timestamp(epoch_us(TRY_CAST({s} AS TIMESTAMPTZ))) END"
            )
        case "date":
            return f"CASE WHEN regexp_matches({s}, '{_ISO_DATE}') THEN TRY_CAST({s} AS DATE) END"
        case "decimal":
            return f"TRY_CAST({s} AS DECIMAL(18,4))"
        case "integer":
            n = _n(c)
            return (
                f"CASE WHEN {n} = trunc({n}) AND abs({n}) <= {QUANTITY_LIMIT} "
                f"THEN CAST({n} AS INTEGER) END"
            )
        case "boolean":
            return (
                f"CASE WHEN lower({s}) IN {_words(TRUE_WORDS)} THEN true "
                f"WHEN lower({s}) IN {_words(FALSE_WORDS)} THEN false END"
            )
        case "json_object":
            return f"CASE WHEN {_is_object(c)} THEN {_j(c)} END"
    raise ValueError(f"unknown column kind {c.kind!r}")


def _checks(schema: EntitySchema, cutoff: dt.datetime) -> list[tuple[str, str, str]]:
    """(failure key 'reason:column', condition, detail expression), in the order they are tried."""
    cols = schema.columns
    checks = [("malformed_row:", "NOT _is_object", "'line is not a JSON object'")]

    def add(reason: str, c: Column, condition: str, text: str | None) -> None:
        detail = f"'{c.name} is empty'" if text is None else _detail(c, text)
        checks.append((f"{reason}:{c.name}", condition, detail))

    for c in cols:
        if c.not_empty:
            add("missing_key", c, f"{_s(c)} IS NULL", None)
    typed_rules = [
        ("timestamp", "bad_timestamp", "is not an ISO 8601 timestamp"),
        ("date", "bad_date", "is not an ISO 8601 date"),
        ("boolean", "bad_boolean", "is not a boolean"),
    ]
    for kind, reason, text in typed_rules:
        for c in cols:
            if c.kind == kind and not c.field_level:
                add(reason, c, f'({_s(c)} IS NOT NULL AND "{c.name}" IS NULL)', text)
    for c in cols:
        if c.kind == "decimal":
            add(
                "bad_number", c, f"({_s(c)} IS NOT NULL AND NOT {_number_ok(c)})", "is not a number"
            )
        if c.kind == "integer":
            add(
                "bad_number",
                c,
                f"({_s(c)} IS NOT NULL AND NOT ({_number_ok(c)} AND {_n(c)} = trunc({_n(c)})))",
                "is not a whole number",
            )
    for c in cols:
        if c.kind == "json_object" and not c.field_level:
            not_object = f"({_j(c)} IS NULL OR NOT ({_is_object(c)} OR {_j(c)} = 'null'))"
            add("bad_json", c, f"({_s(c)} IS NOT NULL AND {not_object})", "is not a JSON object")
    for c in cols:
        if c.negative_reason:
            add(c.negative_reason, c, f"{_n(c)} < 0", "is below zero")
    for c in cols:
        if _numeric(c):
            limit = QUANTITY_LIMIT if c.kind == "integer" else AMOUNT_LIMIT
            add("absurd_value", c, f"abs({_n(c)}) > {limit}", f"is above the limit {limit:,}")
    earliest = EARLIEST_TIMESTAMP.isoformat(sep=" ")
    for c in cols:
        if c.plausible_time:
            add(
                "absurd_value", c, f"\"{c.name}\" < TIMESTAMP '{earliest}'", f"is before {earliest}"
            )
    cutoff_text = cutoff.isoformat(sep=" ")
    for c in cols:
        if c.plausible_time:
            add(
                "future_timestamp",
                c,
                f"\"{c.name}\" > TIMESTAMP '{cutoff_text}'",
                f"is after {cutoff_text} UTC, the latest time this run accepts",
            )
    for c in cols:
        for earlier in c.not_before:
            text = _detail(c, f"is before {earlier} ") + " || " + _quoted(schema.column(earlier))
            checks.append(
                (f"delivery_before_order:{c.name}<{earlier}", f'"{c.name}" < "{earlier}"', text)
            )
    return checks


FIELD_TYPE = "STRUCT(column_name VARCHAR, reason VARCHAR, value VARCHAR, detail VARCHAR)[]"


def _field_rule(c: Column) -> tuple[str, str, str]:
    """(reason, condition, text) of a field-level column: the value was sent but does not parse."""
    if c.kind == "json_object":
        not_object = f"({_j(c)} IS NULL OR NOT ({_is_object(c)} OR {_j(c)} = 'null'))"
        return "bad_json", f"({_s(c)} IS NOT NULL AND {not_object})", "is not a JSON object"
    rules = {
        "timestamp": ("bad_timestamp", "is not an ISO 8601 timestamp"),
        "date": ("bad_date", "is not an ISO 8601 date"),
        "boolean": ("bad_boolean", "is not a boolean"),
    }
    if c.kind not in rules:
        raise ValueError(f"column {c.name} of kind {c.kind} cannot be field-level")
    reason, text = rules[c.kind]
    return reason, f'({_s(c)} IS NOT NULL AND "{c.name}" IS NULL)', text


def _field_failures(schema: EntitySchema) -> str:
    """SQL: the list of a row's field-level problems (empty when none)."""
    items, conditions = [], []
    for c in schema.columns:
        if not c.field_level:
            continue
        reason, condition, text = _field_rule(c)
        detail = f"{_detail(c, text)} || '; set to null, the row is kept'"
        conditions.append(condition)
        items.append(
            f"CASE WHEN {condition} THEN struct_pack(column_name := '{c.name}', "
            f"reason := '{reason}', value := left({_text(c)}, 200), detail := {detail}) END"
        )
    if not items:
        return f"CAST(NULL AS {FIELD_TYPE})"
    # Null for the (nearly all) rows without a problem: no list is built per row.
    listed = f"list_filter([{', '.join(items)}], lambda x: x IS NOT NULL)"
    return f"CASE WHEN {' OR '.join(conditions)} THEN CAST({listed} AS {FIELD_TYPE}) END"


def _detail(c: Column, text: str) -> str:
    return f"'{c.name} ' || {_quoted(c)} || ' {text}'"


def _quoted(c: Column) -> str:
    """SQL: the value as sent, in single quotes (or `null`)."""
    quote = "''''"  # a SQL literal holding one single quote
    return f"coalesce({quote} || left({_text(c)}, 200) || {quote}, 'null')"


def _words(words: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"


def _lines(items) -> str:
    return ",\n                ".join(items)
