"""One streaming pass over a file: its content hash and, for text files, a strict UTF-8 check.

The hash decides whether a file was ingested before (same content = skipped). The UTF-8 check runs
in the same pass so that a bad byte is reported with its byte offset and line, which DuckDB's
reader does not give precisely (it stops on the first bad record, after the rows before it).
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

from retention_pipeline.ingestion.errors import LandingError

CHUNK_BYTES = 4 << 20


def fingerprint(path: Path, relative: str, check_utf8: bool) -> str:
    """The file's SHA-256 (hex); LandingError naming the byte offset and line of invalid UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0  # bytes of the file before the current chunk
    newlines = 0  # line breaks before the current chunk
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            if check_utf8:
                _decode(decoder, chunk, offset, newlines, relative)
                newlines += chunk.count(b"\n")
            offset += len(chunk)
    if check_utf8:
        _decode(decoder, b"", offset, newlines, relative, final=True)
    return digest.hexdigest()


def _decode(decoder, chunk: bytes, offset: int, newlines: int, relative: str, final=False) -> None:
    pending = decoder.getstate()[0]  # an incomplete character carried over from the last chunk
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        data = pending + chunk
        position = offset - len(pending) + exc.start
        line = newlines - pending.count(b"\n") + data.count(b"\n", 0, exc.start) + 1
        raise LandingError(
            f"not UTF-8: invalid byte 0x{data[exc.start]:02x} at byte offset {position} "
            f"(line {line}); save the file as UTF-8",
            file=relative,
            line=line,
        ) from None
