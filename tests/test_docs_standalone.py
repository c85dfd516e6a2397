"""The repository's documentation stands on its own: no tracked file cites the product
specification, a file that users of the repository do not have. Definitions live in
docs/metrics.md, and every pointer into it names a section that exists."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built from parts so that this file does not match itself.
CITATION = re.compile("SP" + r"EC(\s*§|'s|\.md|\b)")
ANCHOR = re.compile(r"docs/metrics\.md#([a-z0-9-]+)")


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    return [ROOT / p for p in out.split("\0") if p and (ROOT / p).is_file()]


def _texts():
    for path in _tracked_files():
        try:
            yield path, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files (images) cite nothing
            continue


def test_no_tracked_file_cites_the_specification():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path, text in _texts()
        for n, line in enumerate(text.splitlines(), 1)
        if CITATION.search(line)
    ]
    assert not hits, "cite docs/metrics.md instead:\n" + "\n".join(hits)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = re.findall(r"^#+\s+(.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in heads}


def test_every_pointer_into_metrics_names_a_section():
    anchors = _anchors((ROOT / "docs" / "metrics.md").read_text(encoding="utf-8"))
    broken = sorted(
        f"{path.relative_to(ROOT)}: #{a}"
        for path, text in _texts()
        for a in ANCHOR.findall(text)
        if a not in anchors
    )
    assert not broken, "unknown sections of docs/metrics.md:\n" + "\n".join(broken)
