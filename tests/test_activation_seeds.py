"""The contact-policy seeds load with dbt into schema `seeds`, pass their dbt tests, and carry
the types the activation code (and its test fixtures) expect; every preset is complete."""

import duckdb
import pytest

from retention_pipeline.warehouse import connect
from tests.support.activation_fixtures import POLICY_SEEDS, load_policy_seeds
from tests.support.pipeline import dbt

PRESETS = {"daily_use", "monthly_service", "yearly_durable"}
CAMPAIGNS = {
    "first_purchase_thanks", "second_purchase_nudge", "replenishment", "birthday",
    "vip_early_access", "new_arrival", "after_sales_followup", "win_back", "win_back_high_value",
    "surprise_reward", "abandoned_checkout", "delivery_apology",
}
CHANNELS = {"email", "sms", "push", "wechat"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("seeds") / "warehouse.duckdb"
    select = " ".join(POLICY_SEEDS)
    dbt(["seed", "--select", select], warehouse, {"as_of": "2026-03-10"})
    # cautious: the seeds' own tests, not the activation checks that also read them
    dbt(["test", "--select", select, "--indirect-selection", "cautious"], warehouse,
        {"as_of": "2026-03-10"})
    return warehouse


def _types(con, table: str) -> dict[str, str]:
    return dict(con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'seeds' and table_name = ? order by ordinal_position", [table]
    ).fetchall())


def test_dbt_seeds_match_the_fixture_types(seeded):
    fixture = duckdb.connect()
    load_policy_seeds(fixture)
    with connect(seeded, read_only=True) as con:
        for table in POLICY_SEEDS:
            assert _types(con, table) == _types(fixture, table), table
            assert con.execute(f"select count(*) from seeds.{table}").fetchone()[0] == \
                fixture.execute(f"select count(*) from seeds.{table}").fetchone()[0]


def test_every_preset_configures_every_campaign_and_caps_every_channel(seeded):
    with connect(seeded, read_only=True) as con:
        presets = {r[0] for r in con.execute("select preset from seeds.contact_policy_presets").fetchall()}
        assert presets == PRESETS
        for preset in presets:
            campaigns = {r[0] for r in con.execute(
                "select campaign from seeds.contact_policy_campaigns where preset = ? and enabled",
                [preset]).fetchall()}
            assert campaigns == CAMPAIGNS, preset
            capped = {r[0] for r in con.execute(
                "select channel from seeds.contact_policy_caps where preset = ?", [preset]).fetchall()}
            assert capped == CHANNELS, preset
            hours = con.execute(
                "select earliest_send_hour, latest_send_hour from seeds.contact_policy_presets "
                "where preset = ?", [preset]).fetchone()
            assert hours == (8, 21)
