"""Dagster wiring, one module per layer; the logic lives in the packages beside this one."""
