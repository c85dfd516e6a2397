"""Great Expectations' expectations, imported without GX's optional Spark support.

Importing GX is the largest fixed cost of a daily run's first quality check (seconds, paid once
per process). With pyspark installed (the `spark` extra, in dev), GX also imports pyspark and its
Spark Connect modules, which the checks never use: they validate pandas frames. pyspark is hidden
from that one import and visible again right after (dbt's Spark target runs in dbt's own process).
"""

from __future__ import annotations

import sys

_hidden = [name for name in ("pyspark",) if name not in sys.modules]
for _name in _hidden:
    sys.modules[_name] = None  # type: ignore[assignment]  # `import pyspark` -> ImportError
try:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column
finally:
    for _name in _hidden:
        sys.modules.pop(_name, None)

__all__ = ["Column", "gxe"]
