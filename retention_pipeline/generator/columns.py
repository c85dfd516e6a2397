"""Arrow column builders shared by the entities: ids, timestamps, money, labels."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def sequential_ids(prefix: str, n: int, width: int, start: int = 1) -> pa.Array:
    """prefix + start..start+n-1 zero-padded to `width` digits (wider when the last needs it):
    C000001, O00000001."""
    last = start + n - 1
    digits = pc.cast(pa.array(np.arange(start, last + 1, dtype=np.int64)), pa.string())
    digits = pc.utf8_lpad(digits, width=max(width, len(str(last))), padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def timestamps(seconds) -> pa.Array:
    """UTC epoch seconds as timestamp[s, UTC] (written as 2026-11-21T14:03:00+00:00 in CSV)."""
    return pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"),
                    pa.timestamp("s", tz="UTC"))


def cents_to_decimal(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Exact money: int64 cents reinterpreted as decimal128(18, 2) (no float rounding)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)  # two's complement high word
    validity = None
    if mask is not None and mask.any():
        validity = pa.array(~mask).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents),
                                 [validity, pa.py_buffer(words.tobytes())],
                                 null_count=-1 if validity is not None else 0)


def labels(vocabulary, index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Strings of `vocabulary` by index; index -1 (or `mask`) is missing."""
    index = np.asarray(index)
    values = np.array(list(vocabulary), dtype=object)[np.maximum(index, 0)]
    missing = index < 0 if mask is None else (index < 0) | mask
    return pa.array(values, pa.string(), mask=missing)
