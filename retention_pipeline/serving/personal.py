"""The personal-data columns, marked `meta: {personal_data: true}` in the dbt YAML.

The marks live in one place, the dbt project (models, and a source for the marts Python writes);
a column of that name is personal in every mart, whatever table carries it.
"""

from __future__ import annotations

import json
from pathlib import Path

META_KEY = "personal_data"


def personal_columns(manifest_path: Path) -> frozenset[str]:
    """Lower-case names of every column marked personal in any model, seed or source."""
    manifest = json.loads(Path(manifest_path).read_text())
    nodes = [*manifest.get("nodes", {}).values(), *manifest.get("sources", {}).values()]
    return frozenset(
        name.lower()
        for node in nodes
        for name, column in node.get("columns", {}).items()
        if (column.get("meta") or {}).get(META_KEY) is True
        or (column.get("config", {}).get("meta") or {}).get(META_KEY) is True
    )


def default_personal_columns() -> frozenset[str]:
    """From the manifest of the project on disk (made by `prepare_manifest`)."""
    from retention_pipeline.assets.dbt import dbt_project

    return personal_columns(dbt_project().manifest_path)
