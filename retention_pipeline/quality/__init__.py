"""Great Expectations suites as Dagster asset checks (see checks.py)."""

from retention_pipeline.quality.checks import build_quality_checks

__all__ = ["build_quality_checks"]
