"""The Dagster UI as a data team uses it, in a real browser: Debian's Chromium driven by
Playwright (never a downloaded browser), against `retention ui` on a small landing.

One walk through the UI: the asset graph with its groups; a three-day backfill launched from the
asset graph's "Materialize all" dialog, which finishes (the backfill's status is polled through
GraphQL); the cohort_retention mart page with its heatmap; the daily schedule; a run of the
backfill with its check results.

`UPDATE_DOCS_SCREENSHOTS=1` also copies the asset-graph and heatmap screenshots to docs/img/
(for the README); they are always saved under the test's tmp_path.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.dagster_ui import (
    LOCATION,
    SCHEDULE,
    free_port,
    graphql,
    pipeline_env,
    process,
    wait_for_webserver,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
DOCS_PICTURES = ("asset-graph", "cohort-heatmap")  # the README shows these
# The dialog offers the last 90 days by default: three recent days, as a data team would pick.
TODAY = dt.datetime.now(dt.UTC).date()
BACKFILL_DAYS = [(TODAY - dt.timedelta(days=n)).isoformat() for n in (3, 2, 1)]
GROUPS = ["raw", "staging", "intermediate", "marts", "predictions", "activation"]
REPO_PATH = f"{LOCATION['repositoryName']}@{LOCATION['repositoryLocationName']}"


def _chromium_or_skip():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (as root, `make test` installs Debian's chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    version = subprocess.run(
        [str(CHROMIUM), "--version", "--no-sandbox"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    if version.returncode != 0:
        pytest.skip(f"/usr/bin/chromium does not start: {version.stderr.strip()[:300]}")
    return playwright


@pytest.fixture
def browser():
    playwright = _chromium_or_skip()
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def ui(tmp_path):
    env = pipeline_env(tmp_path, RETENTION_PARTITIONS_START=(TODAY - dt.timedelta(days=20)).isoformat())
    port = free_port()
    with process(["ui", "--port", str(port)], env, tmp_path / "ui.log") as proc:
        wait_for_webserver(port, proc, tmp_path / "ui.log", timeout=600)
        yield port


def _open(page, url: str) -> None:
    page.goto(url, timeout=120_000)


def _shot(page, tmp_path: Path, name: str, locator=None) -> None:
    from playwright.sync_api import expect

    skip = page.get_by_role("button", name="Skip", exact=True)
    if skip.is_visible():  # the newsletter prompt must not be in the picture
        # An assertion runs the page's locator handler (which clicks Skip) first; a click here
        # would race it and wait forever for the button it just removed.
        expect(skip).to_be_hidden(timeout=30_000)
        page.wait_for_timeout(1_000)
    path = tmp_path / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    if name in DOCS_PICTURES and os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        # A palette of 128 colours keeps the committed pictures small (tens of kB).
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=128).save(
            DOCS_IMG / f"{name}.png", optimize=True
        )


def _backfill(port: int, backfill_id: str) -> dict:
    return graphql(
        port,
        """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
             ... on PartitionBackfill { id status partitionNames
               runs { runId status } } } }""",
        {"id": backfill_id},
    )["partitionBackfillOrError"]


def _backfill_ids(port: int) -> list[str]:
    return [
        b["id"]
        for b in graphql(
            port, "{ partitionBackfillsOrError { ... on PartitionBackfills { results { id } } } }"
        )["partitionBackfillsOrError"]["results"]
    ]


def test_dagster_ui_in_chromium(ui, browser, tmp_path):
    from playwright.sync_api import expect

    port = ui
    base = f"http://127.0.0.1:{port}"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    # Dagster's newsletter prompt may open over any page, at any moment: dismiss it whenever.
    skip = page.get_by_role("button", name="Skip", exact=True)
    page.add_locator_handler(skip, lambda: skip.click())

    # The asset graph, one box per group.
    _open(page, f"{base}/asset-groups")
    expect(page.get_by_role("button", name="Materialize all…")).to_be_visible(timeout=120_000)
    for group in GROUPS:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.wait_for_timeout(2_000)  # let the graph settle before the picture
    _shot(page, tmp_path, "asset-graph")

    # A three-day backfill, launched from the partition dialog of "Materialize all".
    assert _backfill_ids(port) == []
    page.get_by_role("button", name="Materialize all…").click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.get_by_placeholder("No matching partitions").fill(
        f"[{BACKFILL_DAYS[0]}...{BACKFILL_DAYS[-1]}]"
    )
    dialog.get_by_placeholder("No matching partitions").press("Enter")
    expect(dialog.get_by_text("3 partitions")).to_be_visible()
    dialog.get_by_role("button", name="Launch backfill").click()
    expect(dialog).to_be_hidden()
    deadline = time.monotonic() + 60
    while not (ids := _backfill_ids(port)) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(ids) == 1, ids
    backfill = _backfill(port, ids[0])
    assert sorted(backfill["partitionNames"]) == BACKFILL_DAYS
    deadline = time.monotonic() + 45 * 60
    while backfill["status"] in ("REQUESTED",) and time.monotonic() < deadline:
        time.sleep(10)
        backfill = _backfill(port, ids[0])
    assert backfill["status"] == "COMPLETED_SUCCESS" or backfill["status"] == "COMPLETED", backfill
    runs = backfill["runs"]
    assert len(runs) == 3 and all(r["status"] == "SUCCESS" for r in runs), runs

    # The mart page: description pointing to the metric definitions, and the cohort heatmap of
    # the latest materialization.
    _open(page, f"{base}/assets/marts/cohort_retention")
    # Markdown metadata (the chart) opens from its row of the metadata table.
    row = page.get_by_role("row").filter(has_text="retention_heatmap")
    row.get_by_text("Show Markdown").click(timeout=120_000)
    heatmap = page.locator('img[alt="cohort retention heatmap"]').first
    expect(heatmap).to_be_visible(timeout=120_000)
    assert heatmap.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_text("docs/metrics.md", exact=False).first).to_be_attached()
    heatmap.scroll_into_view_if_needed()
    _shot(page, tmp_path, "cohort-heatmap", heatmap)

    page.keyboard.press("Escape")

    # The daily schedule.
    _open(page, f"{base}/locations/{REPO_PATH}/schedules/{SCHEDULE}")
    expect(page.get_by_text("(0 6 * * *)")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("daily_refresh", exact=True).first).to_be_visible()

    # A run of the backfill: its page, and the check results it produced on the mart's Checks
    # tab (each check of cohort_retention passed, evaluated in one of the backfill's runs).
    run_ids = [r["runId"] for r in runs]
    _open(page, f"{base}/runs/{run_ids[0]}")
    expect(page.get_by_text(run_ids[0][:8]).first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Success").first).to_be_visible(timeout=120_000)
    _shot(page, tmp_path, "run")
    passed = _passed_checks(port, run_ids[0], ["marts", "cohort_retention"])
    assert passed, "the run evaluated no check of marts/cohort_retention"
    _open(page, f"{base}/assets/marts/cohort_retention?view=checks")
    # Long names are middle-truncated on screen; the full name is in the page all the same.
    for name in passed:
        expect(page.get_by_text(name, exact=True).first).to_be_attached(timeout=120_000)
    # The selected check's latest evaluation: passed, in a run of the backfill.
    expect(page.get_by_role("row", name="status pass").first).to_be_visible()
    hrefs = page.locator('a[href*="/runs/"]').evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert any(run_id in href for href in hrefs for run_id in run_ids), hrefs
    _shot(page, tmp_path, "checks")


def _passed_checks(port: int, run_id: str, asset: list[str]) -> list[str]:
    events = graphql(
        port,
        """query($id: ID!) { runOrError(runId: $id) { ... on Run {
             eventConnection(afterCursor: null) { events { __typename
               ... on AssetCheckEvaluationEvent {
                 evaluation { checkName success assetKey { path } } } } } } } }""",
        {"id": run_id},
    )["runOrError"]["eventConnection"]["events"]
    evaluations = [e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"]
    assert all(e["success"] for e in evaluations if e["assetKey"]["path"] == asset), evaluations
    return sorted({e["checkName"] for e in evaluations if e["assetKey"]["path"] == asset})
