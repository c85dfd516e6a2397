"""Structural landing problems: they stop the run (docs/metrics.md#bad-input), unlike row problems
(quarantine)."""

from __future__ import annotations


class LandingError(Exception):
    """The landing folder or one of its files cannot be ingested as a whole.

    Raised for: a missing required entity, an unsupported file in an entity folder, an empty or
    unreadable file, a file that is not UTF-8, a wrong CSV delimiter, a malformed CSV record, a
    missing required column. The message names the file (relative to the landing folder), the
    column and the line or byte offset where they are known; the CLI prints it and exits non-zero.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.line = line
        self.detail = message
        prefix = f"{file}: " if file else ""
        super().__init__(f"{prefix}{message}")
