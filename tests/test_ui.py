"""`retention ui` (what `make ui` runs) serves the Dagster UI: the asset graph raw -> staging ->
marts, the daily schedule, and a run launched through the UI's GraphQL API succeeds."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.pipeline import write_csv

pytestmark = pytest.mark.slow
RETENTION = str(Path(sys.executable).with_name("retention"))
LOCATION = {"repositoryLocationName": "retention_pipeline", "repositoryName": "__repository__"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    response = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables or {}},
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def ui_server(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "customers.csv", "customer_id", ["c1", "c2"])
    write_csv(
        landing / "orders.csv",
        "order_id,customer_id,ordered_at,total_amount",
        ["o1,c1,2026-01-05T10:00:00Z,10", "o2,c1,2026-02-05T10:00:00Z,12",
         "o3,c2,2026-02-07T10:00:00Z,30"],
    )
    port = _free_port()
    env = {
        **os.environ,
        "RETENTION_LANDING": str(landing),
        "RETENTION_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "RETENTION_EXPORTS": str(tmp_path / "exports"),
        "RETENTION_DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "RETENTION_PARTITIONS_START": "2026-01-01",
    }
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        [RETENTION, "ui", "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(2)
        else:
            pytest.fail("the Dagster UI did not come up in 300 s")
        # The code location loads asynchronously after the webserver answers.
        while time.monotonic() < deadline:
            nodes = _graphql(port, "{ assetNodes { id } }")["assetNodes"]
            if nodes:
                break
            time.sleep(2)
        yield port, tmp_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_ui_shows_graph_and_schedule_and_launches_a_run(ui_server):
    port, root = ui_server
    data = _graphql(
        port,
        """query($sel: RepositorySelector!) {
             assetNodes { assetKey { path } dependencyKeys { path } }
             schedulesOrError(repositorySelector: $sel) {
               ... on Schedules { results { name cronSchedule } } } }""",
        {"sel": LOCATION},
    )
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
        for n in data["assetNodes"]
    }
    assert "raw/orders" in deps["staging/stg_shop__orders"]
    assert "intermediate/int_orders" in deps["marts/fct_orders"]
    schedules = data["schedulesOrError"]["results"]
    assert [s["name"] for s in schedules] == ["daily_refresh_schedule"]

    launched = _graphql(
        port,
        """mutation($params: ExecutionParams!) {
             launchPipelineExecution(executionParams: $params) {
               __typename ... on LaunchRunSuccess { run { runId } }
               ... on PythonError { message } } }""",
        {"params": {
            "selector": {**LOCATION, "pipelineName": "daily_refresh"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-02-28"}]},
        }},
    )["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + 900
    status = None
    while time.monotonic() < deadline:
        status = _graphql(
            port, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            {"id": run_id},
        )["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(5)
    assert status == "SUCCESS", (root / "ui.log").read_text()[-5000:]
