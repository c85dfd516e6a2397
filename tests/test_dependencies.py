"""Installed packages that behave badly together are caught here, not in a failed daily run."""

from __future__ import annotations

import subprocess
import sys


def test_great_expectations_imports_in_a_process_started_with_dash_c():
    # Dagster's multiprocess step workers start with `python -c`. pyspark (the spark extra) ends
    # such a process with sys.exit(0) on import of pyspark.sql.connect, which GX does, when the
    # Spark Connect dependencies are missing: the step then vanishes with exit code 0.
    done = subprocess.run(
        [sys.executable, "-c", "import great_expectations; print('imported')"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("imported"), done.stderr[-2000:]
