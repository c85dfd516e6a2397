"""The RFM segment map partitions the score grid, and a map that does not is refused by dbt."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retention_pipeline.paths import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "rfm_segments.csv"
GRID = [(r, h / 2) for r in range(1, 6) for h in range(2, 11)]
SEGMENTS = {
    "Champions", "Loyal Customers", "Potential Loyalist", "Recent Customers", "Promising",
    "Customers Needing Attention", "About To Sleep", "At Risk", "Can't Lose Them",
    "Hibernating", "Lost",
}
# The default map as a table: r_score -> segment per fm band 1-1.5, 2-2.5, 3-3.5, 4-5.
EXPECTED = {
    5: ("Recent Customers", "Potential Loyalist", "Loyal Customers", "Champions"),
    4: ("Promising", "Potential Loyalist", "Loyal Customers", "Champions"),
    3: ("About To Sleep", "Customers Needing Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk"),
    1: ("Lost", "Lost", "At Risk", "Can't Lose Them"),
}


def _rows(path: Path = SEED) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _owners(rows, r, fm) -> list[str]:
    return [
        row["segment"]
        for row in rows
        if float(row["r_score_min"]) <= r <= float(row["r_score_max"])
        and float(row["fm_score_min"]) <= fm <= float(row["fm_score_max"])
    ]


def _band(fm: float) -> int:
    return min(int(fm) - 1, 3)


def test_default_map_partitions_the_grid_as_documented():
    rows = _rows()
    for r, fm in GRID:
        assert _owners(rows, r, fm) == [EXPECTED[r][_band(fm)]], (r, fm)


def test_every_default_segment_is_reachable():
    rows = _rows()
    reached = {_owners(rows, r, fm)[0] for r, fm in GRID}
    assert reached == SEGMENTS == {row["segment"] for row in rows}


def _dbt_build_seed(tmp_path: Path, seed_text: str) -> subprocess.CompletedProcess:
    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (project / "seeds" / "rfm_segments.csv").write_text(seed_text)
    env = {**os.environ, "RETENTION_WAREHOUSE": str(tmp_path / "w.duckdb")}
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run(
        [str(dbt), "build", "--select", "rfm_segments", "int_rfm_segment_cells",
         "--indirect-selection", "cautious",
         "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_dbt_refuses_a_map_with_a_gap_an_overlap_and_an_idle_segment(tmp_path):
    text = SEED.read_text()
    # Lost loses (1, 2.5); Hibernating also takes r 1 x fm 1-1.5; a segment outside the grid.
    text = text.replace("Lost,1,1,1,2.5", "Lost,1,1,1,2")
    text = text.replace("Hibernating,2,2,1,2.5", "Hibernating,1,2,1,2.5")
    text = text.rstrip("\n") + "\nSleepers,6,7,1,5\n"
    # r 1 x fm 2.5 is now Hibernating's alone, so make a real gap too: nobody takes (5, 4.5)
    text = text.replace("Champions,4,5,4,5", "Champions,4,5,4,4.5\nChampions,4,4,5,5")
    result = _dbt_build_seed(tmp_path, text)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "does not partition the score grid" in output
    assert "cell (r_score 5, fm_score 5.0) is covered by no row" in output
    assert "cell (r_score 1, fm_score 1.0) is covered by 2 rows (Hibernating, Lost)" in output
    assert "segment 'Sleepers' owns no cell" in output


@pytest.mark.slow
def test_dbt_builds_the_cells_of_the_default_map(tmp_path):
    result = _dbt_build_seed(tmp_path, SEED.read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select r_score, cast(fm_score as double), segment "
            "from intermediate.int_rfm_segment_cells"
        ).fetchall()
    assert len(rows) == 45
    assert {(r, fm): seg for r, fm, seg in rows} == {
        (r, fm): EXPECTED[r][_band(fm)] for r, fm in GRID
    }


@pytest.mark.parametrize("fm", [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
def test_band_helper_matches_the_documented_bands(fm):
    assert _band(fm) == {1.0: 0, 1.5: 0, 2.0: 1, 2.5: 1, 3.0: 2, 3.5: 2}.get(fm, 3)
