"""Starting Dagster's processes (`retention ui | webserver | daemon`) for a test and talking to
the webserver's GraphQL API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.support.pipeline import write_csv

RETENTION = str(Path(sys.executable).with_name("retention"))
LOCATION = {"repositoryLocationName": "retention_pipeline", "repositoryName": "__repository__"}
SCHEDULE = "daily_refresh_schedule"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    response = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables or {}},
        timeout=60,
    )
    assert response.ok, f"GraphQL {response.status_code}: {response.text[:3000]}"
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def small_landing(root: Path) -> Path:
    """Three customers, a few orders in Jan–Feb 2026: enough for every mart to have rows."""
    landing = root / "landing"
    write_csv(landing / "customers.csv", "customer_id", ["c1", "c2", "c3"])
    write_csv(
        landing / "orders.csv",
        "order_id,customer_id,ordered_at,total_amount",
        ["o1,c1,2026-01-05T10:00:00Z,10", "o2,c1,2026-02-05T10:00:00Z,12",
         "o3,c2,2026-02-07T10:00:00Z,30", "o4,c3,2026-01-12T09:00:00Z,18",
         "o5,c3,2026-01-20T09:00:00Z,22", "o6,c2,2026-03-01T09:00:00Z,15"],
    )
    return landing


def pipeline_env(root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RETENTION_LANDING": str(small_landing(root)),
        "RETENTION_WAREHOUSE": str(root / "w.duckdb"),
        "RETENTION_EXPORTS": str(root / "exports"),
        "RETENTION_DAGSTER_HOME": str(root / "dagster_home"),
        **extra,
    }


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path):
    """A `retention ...` process in its own process group, ended (group and all) on exit."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [RETENTION, *args], cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for_webserver(port: int, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Until the webserver answers and its code location has loaded the asset graph."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            # The code location loads asynchronously after the webserver answers.
            up = requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok
            if up and graphql(port, "{ assetNodes { id } }")["assetNodes"]:
                return
        except requests.ConnectionError:
            pass
        time.sleep(2)
    pytest.fail(f"the Dagster webserver did not come up in {timeout:.0f} s")


def wait_for_run(port: int, run_id: str, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = graphql(
            port, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            {"id": run_id},
        )["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(5)
    return status


def start_schedule(port: int) -> str:
    result = graphql(
        port,
        """mutation($sel: ScheduleSelector!) { startSchedule(scheduleSelector: $sel) {
             __typename ... on ScheduleStateResult { scheduleState { status } }
             ... on PythonError { message } } }""",
        {"sel": {**LOCATION, "scheduleName": SCHEDULE}},
    )["startSchedule"]
    assert result["__typename"] == "ScheduleStateResult", result
    return result["scheduleState"]["status"]
