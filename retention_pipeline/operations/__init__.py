"""Running the pipeline safely: one writer at a time, recovery from killed runs, clean stops,
progress lines (docs/operations.md)."""
