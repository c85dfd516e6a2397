"""The dbt models and data tests stay portable: no DuckDB-only (or PostgreSQL-only) syntax outside
the dispatched macros of dbt_project/macros/, which hold one form per engine."""

from __future__ import annotations

import re

import pytest

from retention_pipeline.paths import DBT_PROJECT_DIR

# syntax one of the three targets does not run, and the portable form to use instead
NOT_PORTABLE = {
    r"\bqualify\b": "a ranked subquery and where rank = 1",
    r"\bgroup\s+by\s+all\b": "the grouped columns by name",
    r"\barg_(min|max)\b": "row_number() in a subquery",
    r"->>|::": "json_text() / cast(... as ...)",
    r"\bat\s+time\s+zone\b": "to_local() / local_to_utc()",
    r"\bgenerate_series\b|\bunnest\b|\brange\(": "integer_series()",
    r"\b(list|struct|array)_\w+\(": "joins on a relation",
    r"\bvarchar\b(?!\s*\()": "{{ dbt.type_string() }}",
    r"\bdouble\s+precision\b": "{{ type_double() }}",
    r"\btry_cast\b": "text_to_double()",
    r"\b(strftime|strptime|date_diff|date_part|epoch|count_if|list_agg)\s*\(": "dbt.* macros",
    r"\bexclude\s*\(": "the columns by name",
    # round() of a double: halves to even on PostgreSQL, away from zero on DuckDB
    r"\bround\s*\(": "round_days() (or round a numeric cast)",
}


def _sql_files():
    for folder in ("models", "tests"):
        yield from sorted((DBT_PROJECT_DIR / folder).rglob("*.sql"))


def _without_comments(text: str) -> str:
    # Jinja comments and statements ({% for r in range(5) %}) are not SQL
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}", "", text, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", text)


@pytest.mark.parametrize("path", list(_sql_files()), ids=lambda p: p.name)
def test_models_and_tests_use_only_portable_sql(path):
    text = _without_comments(path.read_text(encoding="utf-8")).lower()
    found = [f"{pattern!r} (use {instead})" for pattern, instead in NOT_PORTABLE.items()
             if re.search(pattern, text)]
    assert not found, f"{path.relative_to(DBT_PROJECT_DIR)} is not portable: " + "; ".join(found)
