"""Vectorised JSON object text for event properties (pyarrow string kernels, no Python loop).

Values are plain tokens (ids, channel names, search terms, numbers, booleans) that need no
escaping; `_check_plain` guards that assumption for the string vocabularies.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def string(values) -> tuple[str, pa.Array]:
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array(values, pa.string())
    return ("str", values)


def number(values) -> tuple[str, pa.Array]:
    return ("raw", pc.cast(pa.array(np.asarray(values)), pa.string()))


def boolean(values) -> tuple[str, pa.Array]:
    return ("raw", pc.if_else(pa.array(np.asarray(values, dtype=bool)), "true", "false"))


def vocabulary(words, index: np.ndarray) -> tuple[str, pa.Array]:
    """Strings picked from a small word list by index."""
    _check_plain(words)
    return string(pa.array(np.array(list(words), dtype=object)[index], pa.string()))


def json_objects(n: int, **fields: tuple[str, pa.Array]) -> pa.Array:
    """'{"a": "x", "b": 3}' per row, keys in the order given."""
    if not fields:
        return pa.array(["{}"] * n, pa.string())
    parts: list = []
    for i, (key, (kind, values)) in enumerate(fields.items()):
        prefix = ("{" if i == 0 else ", ") + json.dumps(key) + ": "
        if kind == "str":
            parts += [prefix + '"', values, '"']
        else:
            parts += [prefix, values]
    parts.append("}")
    # binary_join_element_wise needs at least one array; scalars broadcast.
    merged = _merge_literals(parts)
    return pc.binary_join_element_wise(*merged, "")


def _merge_literals(parts: list) -> list:
    merged: list = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _check_plain(words) -> None:
    for word in words:
        if json.dumps(word, ensure_ascii=False)[1:-1] != word:
            raise ValueError(f"{word!r} needs JSON escaping")
