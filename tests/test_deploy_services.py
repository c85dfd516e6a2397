"""Running it for real: `retention webserver` and `retention daemon` as two long-running processes,
Dagster's run, event-log and schedule storage in PostgreSQL (`dagster_storage_url`). The daily
schedule is turned on through the webserver's GraphQL API, the daemon's scheduler ticks, and the
run it launches succeeds, as the webserver reports and as PostgreSQL holds it.

The tick must come in test time: the schedule's hour and minute are settings
(`schedule_hour`, `schedule_minute`), set here to a few minutes from now in UTC."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from tests.support.dagster_ui import (
    SCHEDULE,
    free_port,
    graphql,
    pipeline_env,
    process,
    start_schedule,
    wait_for_run,
    wait_for_webserver,
)

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.slow
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Long enough for the webserver and the daemon to start on a busy 2-core machine, with the
# other test worker's dbt and Spark beside them (make test runs two tests at once).
LEAD_MINUTES = 6


@pytest.fixture
def storage_url():
    """A fresh PostgreSQL database for this test's Dagster storage, dropped afterwards."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    name = f"retention_dagster_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _scheduled_runs(port: int) -> list[dict]:
    return graphql(
        port,
        """query($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
             ... on Runs { results { runId status tags { key value } } } } }""",
        {"tags": [{"key": "dagster/schedule_name", "value": SCHEDULE}]},
    )["runsOrError"]["results"]


def test_schedule_tick_runs_through_webserver_and_daemon_on_postgres(tmp_path, storage_url):
    tick = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=LEAD_MINUTES)).replace(
        second=0, microsecond=0
    )
    env = pipeline_env(
        tmp_path,
        RETENTION_DAGSTER_STORAGE_URL=storage_url,
        RETENTION_REPORTING_TZ="UTC",
        RETENTION_PARTITIONS_START=(tick.date() - dt.timedelta(days=3)).isoformat(),
        RETENTION_SCHEDULE_HOUR=str(tick.hour),
        RETENTION_SCHEDULE_MINUTE=str(tick.minute),
    )
    port = free_port()
    with process(["webserver", "--port", str(port)], env, tmp_path / "webserver.log") as web:
        wait_for_webserver(port, web, tmp_path / "webserver.log")
        with process(["daemon"], env, tmp_path / "daemon.log") as daemon:
            assert start_schedule(port) == "RUNNING"
            if dt.datetime.now(dt.UTC) > tick - dt.timedelta(seconds=20):
                pytest.fail(f"start-up took longer than the {LEAD_MINUTES} min lead: no tick")

            deadline = time.monotonic() + LEAD_MINUTES * 60 + 900
            runs: list[dict] = []
            while time.monotonic() < deadline:
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                runs = _scheduled_runs(port)
                if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                time.sleep(5)
            assert runs, "the schedule did not tick:\n" + (tmp_path / "daemon.log").read_text()[-3000:]
            run = runs[0]
            assert wait_for_run(port, run["runId"], timeout=60) == "SUCCESS", (
                (tmp_path / "daemon.log").read_text()[-5000:]
            )
            tags = {t["key"]: t["value"] for t in run["tags"]}
            # The morning run is for that day: the partition (as-of date) is the tick's date.
            assert tags["dagster/partition"] == tick.date().isoformat()

    # The history lives in PostgreSQL, not in SQLite files of the Dagster home.
    with psycopg.connect(storage_url) as con:
        stored = con.execute("select run_id, status from runs").fetchall()
        ticks = con.execute("select count(*) from job_ticks").fetchone()[0]
    assert (run["runId"], "SUCCESS") in stored
    assert ticks >= 1
    assert not list((tmp_path / "dagster_home").rglob("runs.db"))
    assert "postgres_url:\n      env: RETENTION_DAGSTER_STORAGE_URL" in (
        tmp_path / "dagster_home" / "dagster.yaml"
    ).read_text()
    assert storage_url not in (tmp_path / "dagster_home" / "dagster.yaml").read_text()
