"""Retention and repurchase analytics pipeline: Dagster code location."""
