"""Running the activation SQL: named parameters and the SQL files next to the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def used_parameters(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of `params` that `sql` references as `$name` (DuckDB rejects extra ones).

    Raises when the SQL needs a parameter that is not given, naming it.
    """
    names = set(_PARAMETER.findall(_strip_comments(sql)))
    missing = names - set(params)
    if missing:
        raise KeyError(f"SQL parameter(s) not provided: {sorted(missing)}")
    return {name: params[name] for name in names}


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    return con.execute(sql, used_parameters(sql, params or {}))


def read_sql(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return relation_columns(con, relation) is not None


def relation_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str] | None:
    """Column names of `schema.name` (table or view), or None when it does not exist."""
    schema, name = relation.split(".", 1)
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {row[0] for row in rows} or None


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
