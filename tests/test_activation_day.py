"""A whole activation day: the activation dbt build (candidates, checks, contact log, segments,
lift), then the export files; re-runs and the next day; atomic exports; blocking checks that stop
the contact log and the exports (through Dagster)."""

import csv
import datetime as dt
import hashlib
import json
import warnings
from pathlib import Path

import dagster as dg
import pytest

from retention_pipeline.activation import exports
from retention_pipeline.activation.build import CHECK_NAMES, ActivationBuildError
from retention_pipeline.activation.daily import run_day
from retention_pipeline.assets.activation import build_activation_assets
from retention_pipeline.assets.dbt import (
    AFTER_PREDICTIONS,
    build_dbt_assets,
    dbt_project,
    dbt_resource,
    prepare_manifest,
)
from retention_pipeline.partitions import daily_partitions
from retention_pipeline.warehouse import connect
from tests.support.activation_fixtures import Shop, is_holdout

AS_OF = dt.date(2026, 3, 10)
NEXT_DAY = AS_OF + dt.timedelta(days=1)


def ago(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


def build_shop(folder: Path) -> Shop:
    """Forty customers across the campaigns, some without consent, in several time zones."""
    shop = Shop(folder)
    shop.cycles(coffee=30)
    shop.product("beans", "coffee")
    shop.product("new", "coffee", launched_at=dt.datetime(2026, 3, 8, 10))
    zones = ["Europe/Paris", "Asia/Shanghai", "America/New_York", None]
    for i in range(40):
        c = f"c{i:02d}"
        shop.customer(
            c, birthday=dt.date(1980 + i, 3, 10) if i % 5 == 0 else None,
            accepts_email=i % 6 != 5, accepts_push=i % 2 == 0, push_token=f"tok{i}",
            timezone=zones[i % 4], first_name=f"Name, {i}",  # a comma: CSV quoting
        )
        shop.order(c, ago(30 + i), items=[("beans", 10.0 + i)])
        if i % 3 == 0:
            shop.order(c, ago(1), items=[("beans", 12.0)])
        shop.segment(c, rfm="Champions" if i % 2 else "Can't Lose Them",
                     tier="Gold" if i % 4 == 0 else "Bronze")
    shop.customer("newbie", timezone="America/New_York")
    shop.order("newbie", ago(1), order_id="newbie1")
    shop.event("c07", "complaint", dt.datetime(2026, 3, 9, 11), order_id="o7")
    shop.predictions(c01="high", c02="low")
    shop.derive()
    return shop


@pytest.fixture
def shop(tmp_path):
    shop = build_shop(tmp_path)
    shop.close()
    return shop


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def log_rows(shop: Shop) -> list[tuple]:
    """The contact log (none before its first successful build)."""
    with connect(shop.path, read_only=True) as con:
        if not con.execute("select count(*) from information_schema.tables where "
                           "table_schema = 'marts' and table_name = 'contact_log'").fetchone()[0]:
            return []
        return con.execute("select * from marts.contact_log order by all").fetchall()


def day_counts(shop: Shop, as_of: dt.date = AS_OF) -> dict[tuple[str, str], int]:
    with connect(shop.path, read_only=True) as con:
        return {(c, s): n for c, s, n in con.execute(
            "select campaign, state, count(*) from marts.campaign_candidates "
            "where as_of_date = ? group by 1, 2", [as_of]).fetchall()}


def logged(shop: Shop, as_of: dt.date = AS_OF) -> int:
    with connect(shop.path, read_only=True) as con:
        return con.execute("select count(*) from marts.contact_log where as_of_date = ?",
                           [as_of]).fetchone()[0]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_day_twice_gives_identical_files_and_no_new_contacts(shop):
    settings = shop.settings(control_share=0.2)
    first = run_day(shop.path, settings, AS_OF)
    files_first = folder_bytes(first.export.folder)
    log_first = log_rows(shop)

    second = run_day(shop.path, settings, AS_OF)

    assert folder_bytes(second.export.folder) == files_first
    assert log_rows(shop) == log_first
    assert logged(shop) == len(log_first) > 0
    counts = day_counts(shop)
    queued = sum(n for (_, s), n in counts.items() if s == "queued")
    held = sum(n for (_, s), n in counts.items() if s == "holdout")
    assert logged(shop) == queued + held
    assert held > 0


def test_export_files_hold_queued_sends_only_and_the_manifest_matches(shop):
    settings = shop.settings(control_share=0.3)
    day = run_day(shop.path, settings, AS_OF)
    folder = shop.folder / "exports" / "2026-03-10"
    assert day.export.folder == folder

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-03-10"
    assert exports.verify_manifest(folder) == []
    exported = set()
    for relative, meta in manifest["files"].items():
        data = (folder / relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        rows = read_csv(folder / relative)
        assert len(rows) == meta["rows"]
        if relative.startswith("campaigns/"):
            assert list(rows[0] if rows else exports.CAMPAIGN_COLUMNS) == list(exports.CAMPAIGN_COLUMNS) \
                or not rows
            exported |= {(r["customer_id"], r["campaign"]) for r in rows}
            assert rows == sorted(rows, key=lambda r: r["customer_id"])
    with connect(shop.path, read_only=True) as con:
        by_state = {
            state: set(con.execute(
                "select customer_id, campaign from marts.campaign_candidates where state = ?", [state]
            ).fetchall())
            for state in ("queued", "holdout")
        }
    assert exported == by_state["queued"]
    assert by_state["holdout"] and not (exported & by_state["holdout"])
    for customer, campaign in by_state["holdout"]:
        assert is_holdout(customer, campaign, 0.3)

    thanks = read_csv(folder / "campaigns" / "first_purchase_thanks.csv")
    assert [r["customer_id"] for r in thanks] == ["newbie"]
    assert thanks[0]["send_at"] == "2026-03-10T10:00:00-04:00"  # New York, DST since 8 March
    assert json.loads(thanks[0]["context"])["order_id"] == "newbie1"
    birthday = read_csv(folder / "campaigns" / "birthday.csv")
    assert {r["first_name"] for r in birthday} <= {"Name, 0", "Name, 10", "Name, 15", "Name, 20",
                                                    "Name, 25", "Name, 30", "Name, 35"}
    assert "Name, 0" in {r["first_name"] for r in birthday}  # a comma survives the CSV
    # segments: every default RFM segment has a file, empty or not; churners from predictions
    segments = sorted(p.name for p in (folder / "segments").iterdir())
    assert {"rfm_champions.csv", "rfm_cant_lose_them.csv", "rfm_lost.csv", "tier_gold.csv",
            "predicted_churners.csv"} <= set(segments)
    assert [r["customer_id"] for r in read_csv(folder / "segments" / "predicted_churners.csv")] == ["c01"]
    assert read_csv(folder / "segments" / "rfm_lost.csv") == []
    assert len(read_csv(folder / "segments" / "tier_gold.csv")) == 10


def test_next_day_respects_caps_and_cooldowns_of_the_day_before(tmp_path):
    shop = Shop(tmp_path)
    shop.cycles(coffee=30, tea=30)
    shop.product("beans", "coffee")
    shop.product("leaves", "tea")
    # capped: 2 marketing emails earlier this week; day 1 brings a birthday email (3 of 3);
    # on day 2 the win-back (last occasion 60 days before day 2) must go by push instead
    shop.customer("capped", birthday=dt.date(1990, 3, 10), accepts_push=True, push_token="tok")
    shop.order("capped", NEXT_DAY - dt.timedelta(days=60))
    # cooled: tea due on day 1; coffee (due 3 days after day 2) enters its window on day 2:
    # the second replenishment waits out the 3-day cooldown
    shop.customer("cooled")
    shop.order("cooled", ago(30), items=[("leaves", 5.0)])
    shop.order("cooled", ago(26), items=[("beans", 5.0)])
    shop.derive()
    for n in (5, 3):
        shop.log(ago(n), "capped", "new_arrival", dedupe_key=f"new_arrival:p{n}")
    shop.close()
    settings = shop.settings()

    run_day(shop.path, settings, AS_OF)
    day1 = day_counts(shop)
    day2 = run_day(shop.path, settings, NEXT_DAY)

    assert day1[("birthday", "queued")] == 1
    assert day1[("replenishment", "queued")] == 1
    with connect(shop.path, read_only=True) as con:
        rows = {
            (r[0], r[1]): r[2:] for r in con.execute(
                "select customer_id, split_part(dedupe_key, ':', 1) || split_part(dedupe_key, ':', 2), "
                "state, reason, channel from marts.campaign_candidates"
            ).fetchall()
        }
        logged = con.execute(
            "select as_of_date, customer_id, campaign, channel from marts.contact_log "
            "where as_of_date >= ? order by all", [AS_OF]
        ).fetchall()
    assert rows[("capped", "win_back")] == ("queued", "eligible", "push")
    assert rows[("cooled", "replenishmentcoffee")] == ("suppressed", "cooldown", None)
    # the tea purchase was reminded on day 1: left out (one candidate a day, the coffee one)
    assert ("cooled", "replenishmenttea") not in rows
    assert logged == [
        (AS_OF, "capped", "birthday", "email"),
        (AS_OF, "cooled", "replenishment", "email"),
        (NEXT_DAY, "capped", "win_back", "push"),
    ]
    # re-running day 1 after day 2 replaces day 1 only
    run_day(shop.path, settings, AS_OF)
    with connect(shop.path, read_only=True) as con:
        again = con.execute(
            "select as_of_date, customer_id, campaign, channel from marts.contact_log "
            "where as_of_date >= ? order by all", [AS_OF]
        ).fetchall()
    assert again == logged
    assert day2.export.rows("campaigns/")["campaigns/win_back.csv"] == 1


def test_a_crash_while_writing_leaves_no_partial_day_and_the_old_day_intact(shop, monkeypatch):
    settings = shop.settings()
    run_day(shop.path, settings, AS_OF)
    day = shop.folder / "exports" / "2026-03-10"
    before = folder_bytes(day)

    real_write = exports._write_csv
    calls = {"n": 0}

    def crash_on_third_file(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(exports, "_write_csv", crash_on_third_file)
    with pytest.raises(OSError, match="disk full"):
        exports.write_exports(settings, AS_OF, settings.exports)
    assert folder_bytes(day) == before  # the complete old day, untouched
    assert [p.name for p in day.parent.iterdir() if p.name.startswith(".")]  # the hidden leftover

    monkeypatch.setattr(exports, "_write_csv", real_write)
    exports.write_exports(settings, AS_OF, settings.exports)
    assert folder_bytes(day) == before
    assert sorted(p.name for p in day.parent.iterdir()) == ["2026-03-10"]  # leftovers removed


def first_contacts(shop: Shop) -> tuple[list[tuple], list[tuple]]:
    """contact_log_keys as kept, and each key's first contact day computed from the whole log."""
    with connect(shop.path, read_only=True) as con:
        kept = con.execute("select customer_id, campaign, dedupe_key, first_on "
                           "from pipeline.contact_log_keys order by all").fetchall()
        computed = con.execute("select customer_id, campaign, dedupe_key, min(as_of_date) "
                               "from marts.contact_log group by all order by all").fetchall()
    return kept, computed


def test_contact_log_keys_follow_the_log_through_new_days_reruns_and_backfills(shop):
    settings = shop.settings(control_share=0.2)
    days = [AS_OF + dt.timedelta(days=n) for n in range(3)]
    for day in days:
        run_day(shop.path, settings, day)
        kept, computed = first_contacts(shop)
        assert kept == computed
    assert {row[3] for row in kept} == set(days)  # each day brought keys of its own
    # the first day again, after every email consent was withdrawn: its email contacts go, and
    # with them the keys first contacted then (a backfill: later days stay as they were)
    with connect(shop.path) as con:
        con.execute("update staging.stg_shop__customers set accepts_email = false")
    later = [row for row in log_rows(shop) if row[0] > AS_OF]
    run_day(shop.path, settings, AS_OF)
    kept_after, computed_after = first_contacts(shop)
    assert kept_after == computed_after
    assert len(kept_after) < len(kept)
    assert [row for row in log_rows(shop) if row[0] > AS_OF] == later
    # and the next day builds on them
    run_day(shop.path, settings, days[-1] + dt.timedelta(days=1))
    assert first_contacts(shop)[0] == first_contacts(shop)[1]


def test_a_failed_update_of_contact_log_keys_leaves_the_day_unlogged(shop):
    settings = shop.settings()
    run_day(shop.path, settings, AS_OF)
    before = log_rows(shop)
    with connect(shop.path) as con:  # the same keys, as a view the post-hook cannot write to
        con.execute("drop table pipeline.contact_log_keys")
        con.execute("create view pipeline.contact_log_keys as select customer_id, campaign, "
                    "dedupe_key, min(as_of_date) as first_on from marts.contact_log group by all")
    with pytest.raises(ActivationBuildError, match="contact_log"):
        run_day(shop.path, settings, NEXT_DAY)
    assert log_rows(shop) == before  # the log's day and the keys commit together, or neither
    # dropped by hand, the keys are built again from the whole log by the next build
    with connect(shop.path) as con:
        con.execute("drop view pipeline.contact_log_keys")
    run_day(shop.path, settings, NEXT_DAY)
    kept, computed = first_contacts(shop)
    assert kept == computed
    assert logged(shop, NEXT_DAY) > 0  # so the failed build had a day to lose


def test_a_campaign_turned_off_loses_its_file_on_rerun(shop):
    settings = shop.settings()
    run_day(shop.path, settings, AS_OF)
    day = shop.folder / "exports" / "2026-03-10"
    assert (day / "campaigns" / "birthday.csv").exists()
    with connect(shop.path) as con:
        con.execute("update seeds.contact_policy_campaigns set enabled = false "
                    "where campaign = 'birthday'")
    run_day(shop.path, settings, AS_OF)
    assert not (day / "campaigns" / "birthday.csv").exists()
    assert "campaigns/birthday.csv" not in json.loads((day / "manifest.json").read_text())["files"]


def test_checks_catch_a_broken_decision(tmp_path):
    shop = build_shop(tmp_path)
    assert not shop.build(AS_OF, select="campaign_candidates").failed_checks
    # a marketing message on a channel without consent, a second marketing message for one
    # customer, a send at 03:00 local; with a larger control share, queued control customers
    shop.con.execute("""
        update marts.campaign_candidates set channel = 'sms', address = null
        where customer_id = 'c00' and campaign = 'birthday'
    """)
    shop.con.execute("""
        insert into marts.campaign_candidates
        select * replace ('win_back' as campaign, 'x' as dedupe_key)
        from marts.campaign_candidates where customer_id = 'c10' and campaign = 'birthday'
    """)
    shop.con.execute("""
        update marts.campaign_candidates set send_at_utc = timestamp '2026-03-10 07:00:00'
        where customer_id = 'newbie' and campaign = 'first_purchase_thanks'
    """)
    failed = {n.name: n for n in shop.build(
        AS_OF, command="test", select="campaign_candidates").failed_checks}
    failed_share = {n.name for n in shop.build(
        AS_OF, command="test", select="campaign_candidates", control_share=0.5).failed_checks}
    shop.close()
    assert set(failed) == {
        "no_send_without_consent", "queued_sends_have_the_customers_address",
        "one_state_and_reason_per_candidate",  # queued without an address
        "at_most_one_marketing_message_per_customer_per_day",
        "no_send_inside_quiet_hours",  # 03:00 in New York
    }
    assert failed["at_most_one_marketing_message_per_customer_per_day"].failures == 1  # c10
    assert "holdouts_never_sent" in failed_share


def test_a_failed_check_outside_dagster_logs_and_exports_nothing(tmp_path):
    shop = build_shop(tmp_path)
    duplicate_customer(shop.con)
    shop.close()
    with pytest.raises(ActivationBuildError, match="one_state_and_reason_per_candidate"):
        run_day(shop.path, shop.settings(), AS_OF)
    assert log_rows(shop) == []
    assert not (shop.folder / "exports" / "2026-03-10").exists()


def duplicate_customer(con) -> None:
    """A fault the policy does not expect: the staging customer c05 listed twice (once without
    consent), so its candidates are decided twice."""
    con.execute("""
        insert into staging.stg_shop__customers
        select * replace (false as accepts_email) from staging.stg_shop__customers
        where customer_id = 'c05'
    """)


def _materialize(settings, partition: str, instance) -> dg.ExecuteInProcessResult:
    """The activation dbt step and the exports, as the daily job runs them."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    project = prepare_manifest(dbt_project())
    partitions = daily_partitions(settings)
    assets = [
        # the second phase's activation models (the fixture hand-makes the predictions)
        build_dbt_assets(settings, partitions, project, name="dbt_after_predictions",
                         select=AFTER_PREDICTIONS,
                         exclude="path:models/predictions path:models/history"),
        *build_activation_assets(settings, partitions),
    ]
    return dg.materialize(assets, partition_key=partition, instance=instance,
                          resources={"dbt": dbt_resource(project)}, raise_on_error=False)


def test_dagster_materializes_the_day_and_a_failed_check_stops_the_next_days_log_and_files(shop):
    settings = shop.settings(control_share=0.2)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _materialize(settings, "2026-03-10", instance)
        assert result.success
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert set(CHECK_NAMES) <= set(evaluations)
        assert all(e.passed for e in evaluations.values())
        assert {evaluations[name].asset_key.to_user_string() for name in CHECK_NAMES} == {
            "marts/campaign_candidates"}
        meta = {
            m.asset_key.to_user_string(): m.materialization.metadata
            for m in result.get_asset_materialization_events()
        }
        assert {"marts/campaign_candidates", "marts/contact_log", "marts/segment_members",
                "marts/campaign_lift", "exports/crm_files"} <= set(meta)
        table = meta["exports/crm_files"]["candidates_by_campaign_and_state"].value
        assert "| birthday |" in table and "| queued | holdout | suppressed |" in table
        assert meta["exports/crm_files"]["queued_sends"].value > 0
        with connect(shop.path) as con:
            states = dict(con.execute("SELECT state, count(*) FROM marts.campaign_candidates "
                                      "GROUP BY state").fetchall())
            birthday = con.execute("SELECT count(*) FILTER (WHERE state = 'queued'), "
                                   "count(*) FILTER (WHERE state = 'holdout'), "
                                   "count(*) FILTER (WHERE state = 'suppressed') "
                                   "FROM marts.campaign_candidates "
                                   "WHERE campaign = 'birthday'").fetchone()
        assert {s: meta["exports/crm_files"][s].value for s in states} == states
        assert "| birthday | {} | {} | {} |".format(*birthday) in table
        assert (shop.folder / "exports" / "2026-03-10" / "manifest.json").exists()
        first_day = log_rows(shop)

        # the next day, a fault the policy does not expect breaks a blocking check
        with connect(shop.path) as con:
            duplicate_customer(con)
        result = _materialize(settings, "2026-03-11", instance)
        failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
        materialized = {m.asset_key.to_user_string()
                        for m in result.get_asset_materialization_events()}
    assert not result.success
    assert "one_state_and_reason_per_candidate" in failed
    assert "marts/contact_log" not in materialized
    assert "exports/crm_files" not in materialized
    assert not (shop.folder / "exports" / "2026-03-11").exists()
    assert log_rows(shop) == first_day  # nothing of the 11th; the 10th kept
