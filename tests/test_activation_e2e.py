"""Activation on the generated sample shop, through the whole pipeline (`retention run`'s path):
generate 5,000 customers, ingest, dbt, predictions, activation, exports — one Dagster run.

Needs every layer (marts.dim_customers, the predictions) wired into the definitions."""

import csv
import datetime as dt
import json

import pytest

from retention_pipeline.activation import exports
from retention_pipeline.runner import run_pipeline
from retention_pipeline.settings import load_settings
from retention_pipeline.warehouse import connect

AS_OF = dt.date(2026, 11, 23)


@pytest.mark.slow
def test_a_typical_day_of_the_sample_shop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the sample shop is generated into ./data/landing
    settings = load_settings(
        as_of=AS_OF, sample_customers=5000, warehouse=tmp_path / "warehouse.duckdb",
        exports=tmp_path / "exports", dagster_home=tmp_path / "dagster_home",
    )
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.failures
    assert outcome.blocking_checks_passed, [c for c in outcome.checks if not c.passed]

    with connect(settings.warehouse, read_only=True) as con:
        queued = dict(con.execute("""
            select campaign, count(*) from marts.campaign_candidates
            where state = 'queued' group by 1
        """).fetchall())
        marketing = [r[0] for r in con.execute(
            "select distinct campaign from marts.campaign_candidates where category = 'marketing'"
        ).fetchall()]
        doubles = con.execute("""
            select count(*) from (
                select customer_id from marts.campaign_candidates
                where state = 'queued' and list_contains(?, campaign)
                group by 1 having count(*) > 1)
        """, [marketing]).fetchone()[0]
        without_consent = con.execute("""
            select count(*)
            from marts.campaign_candidates as c
            join staging.stg_shop__customers as s using (customer_id)
            where c.state = 'queued' and list_contains(?, c.campaign)
              and not case c.channel when 'email' then s.accepts_email when 'sms' then s.accepts_sms
                                     when 'push' then s.accepts_push
                                     when 'wechat' then s.accepts_wechat end
        """, [marketing]).fetchone()[0]
        logged = con.execute(
            "select count(*) from marts.contact_log where as_of_date = ?", [AS_OF]
        ).fetchone()[0]
        holdouts = con.execute(
            "select count(*) from marts.campaign_candidates where state = 'holdout'"
        ).fetchone()[0]

    assert len([c for c, n in queued.items() if n > 0]) >= 5, queued
    assert doubles == 0
    assert without_consent == 0
    assert logged == sum(queued.values()) + holdouts

    day = settings.exports / AS_OF.isoformat()
    assert exports.verify_manifest(day) == []
    manifest = json.loads((day / "manifest.json").read_text())
    for campaign, n in queued.items():
        assert manifest["files"][f"campaigns/{campaign}.csv"]["rows"] == n
        with open(day / "campaigns" / f"{campaign}.csv", newline="") as fh:
            assert sum(1 for _ in csv.DictReader(fh)) == n
