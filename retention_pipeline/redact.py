"""Keeping personal data and secrets out of logs, error messages and the Dagster UI.

- `mask(column, value)`: a sample value of a personal-data column as `c…@example.com` (email:
  first character, ellipsis, domain) or `J…` (anything else: first character, ellipsis), so a
  reader can tell values apart without learning them.
- `redact_url(text)`: the password of every URL in a text (`scheme://user:secret@host`) replaced
  by `***`; used wherever settings or errors are printed (a database URL is a setting).
"""

from __future__ import annotations

import re
from typing import Any

# The columns marked `meta: {personal_data: true}` in the dbt YAML (the list that serving reads
# from the manifest); kept here too because checks mask raw tables before any manifest exists.
# tests/test_serving.py checks that this list covers every marked column.
# `address` is the campaign files' email / phone / token column.
PERSONAL_COLUMNS = frozenset(
    {"email", "phone", "first_name", "birthday", "push_token", "wechat_openid", "address"}
)
ELLIPSIS = "\u2026"
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")


def is_personal(column: str | None) -> bool:
    return column is not None and column.lower() in PERSONAL_COLUMNS


def mask_value(value: Any, column: str | None = None) -> Any:
    """The value masked; None stays None. An email keeps its domain (useful to spot a typo'd
    domain), anything else only its first character."""
    if value is None:
        return None
    text = str(value)
    if not text:
        return text
    if "@" in text and (column is None or column.lower() == "email"):
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}{ELLIPSIS}@{domain}"
    return f"{text[:1]}{ELLIPSIS}"


def mask(column: str | None, value: Any) -> Any:
    """The value masked when the column holds personal data, else as it is."""
    return mask_value(value, column) if is_personal(column) else value


def mask_all(columns, values: list) -> list:
    """Sample values of an expectation over `columns`: masked when any of them is personal."""
    personal = [c for c in columns if is_personal(c)]
    if not personal:
        return values
    column = personal[0] if len(personal) == 1 else None
    return [_mask_nested(v, column) for v in values]


def _mask_nested(value: Any, column: str | None) -> Any:
    if isinstance(value, dict):
        return {k: (mask(k, v) if is_personal(k) else v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_nested(v, column) for v in value]
    return mask_value(value, column)


def redact_url(text: Any) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}***", str(text))
