"""The segment files of a day's export: every segment with members in marts.segment_members, plus
the default RFM segments, whose files are written every day, empty or not, so that a CRM replacing
its lists from the files also empties a segment that lost every member.

`slug` is the Python twin of the dbt macro `segment_slug` (dbt_project/macros/activation.sql): a
lower-case ASCII slug of a label (apostrophes dropped, other runs of characters replaced by '_'), or
'x' + 8 hex digits of its md5 when nothing is left.
"""

from __future__ import annotations

import hashlib
import re

PREDICTED_CHURNERS = "predicted_churners"
DEFAULT_RFM_SEGMENTS = (
    "Champions", "Loyal Customers", "Potential Loyalist", "Recent Customers", "Promising",
    "Customers Needing Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating",
    "Lost",
)


def slug(label: str) -> str:
    text = re.sub(r"['’]", "", label.lower())
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return text or "x" + hashlib.md5(label.encode("utf-8")).hexdigest()[:8]


def exported_segments(present: set[str]) -> list[str]:
    """Segments that get a file: those with members, plus the default RFM segments."""
    return sorted(set(present) | {f"rfm_{slug(label)}" for label in DEFAULT_RFM_SEGMENTS})
