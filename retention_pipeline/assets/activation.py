"""Activation's Python asset: the CRM files of the day.

The decisions are dbt models (dbt_project/models/activation), built by the `dbt_after_predictions`
step after the prediction fits, under the asset keys below; the blocking checks are dbt tests of
campaign_candidates (asset checks of marts/campaign_candidates). A failing check fails that dbt
build: dbt skips contact_log, and Dagster skips this asset, so nothing of the day is exported.

    marts/campaign_candidates  campaigns + contact policy for the day (dbt)
    marts/contact_log          the day's queued and held-out contacts, day replaced on re-run (dbt)
    marts/segment_members      customer x segment lists (dbt)
    marts/campaign_lift        treated vs control repurchase per campaign and trigger week (dbt)
    exports/crm_files          <exports>/<as-of>/ campaigns, segments, manifest.json (here)
"""

import dagster as dg

from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.settings import Settings

GROUP = "activation"
CANDIDATES_KEY = dg.AssetKey(["marts", "campaign_candidates"])
CONTACT_LOG_KEY = dg.AssetKey(["marts", "contact_log"])
SEGMENTS_KEY = dg.AssetKey(["marts", "segment_members"])
LIFT_KEY = dg.AssetKey(["marts", "campaign_lift"])
EXPORTS_KEY = dg.AssetKey(["exports", "crm_files"])
MANIFEST_CHECK = "manifest_matches_files"
STATES = ("queued", "holdout", "suppressed")


def build_activation_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list:
    return [_exports_asset(settings, partitions)]


def _exports_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=EXPORTS_KEY,
        deps=[CANDIDATES_KEY, CONTACT_LOG_KEY, SEGMENTS_KEY],
        kinds={"csv"},
        description="CRM files of the as-of date: campaigns/<campaign>.csv (queued sends), "
        "segments/<segment>.csv, manifest.json; written atomically from the dbt target.",
        check_specs=[dg.AssetCheckSpec(
            MANIFEST_CHECK, asset=EXPORTS_KEY,
            description="Every file of the day's folder is in manifest.json with the same sha256.",
        )],
        group_name=GROUP,
        **daily_asset_options(partitions),
    )
    def crm_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import exports
        from retention_pipeline.targets.read import read_table

        as_of = as_of_from_partition(context.partition_key)
        written = exports.write_exports(settings, as_of, settings.exports)
        problems = exports.verify_manifest(written.folder)
        campaigns = {p.split("/")[1][:-4]: n for p, n in written.rows("campaigns/").items()}
        segments = {p.split("/")[1][:-4]: n for p, n in written.rows("segments/").items()}
        decided = _decided(read_table(settings, "marts", "campaign_candidates",
                                      ["campaign", "state"]))
        by_campaign = [[c, *(decided.get((c, s), 0) for s in STATES)]
                       for c in sorted({c for c, _ in decided})]
        return dg.MaterializeResult(
            metadata={
                "folder": dg.MetadataValue.path(str(written.folder)),
                "contact_policy_preset": dg.MetadataValue.text(settings.contact_policy_preset),
                "candidates_by_campaign_and_state": dg.MetadataValue.md(
                    _table(["campaign", *STATES], by_campaign)
                ),
                **{state: dg.MetadataValue.int(sum(n for (_, s), n in decided.items() if s == state))
                   for state in STATES},
                "queued_sends": dg.MetadataValue.int(sum(campaigns.values())),
                "sends_per_campaign": dg.MetadataValue.md(
                    _table(["campaign", "rows"], campaigns.items())
                ),
                "members_per_segment": dg.MetadataValue.md(
                    _table(["segment", "rows"], segments.items())
                ),
            },
            check_results=[dg.AssetCheckResult(
                check_name=MANIFEST_CHECK,
                passed=not problems,
                metadata={"problems": dg.MetadataValue.text("\n".join(problems) or "none")},
            )],
        )

    return crm_files


def _decided(candidates) -> dict[tuple[str, str], int]:
    """{(campaign, state): candidates}, counted by Arrow: a million candidates as Python dicts
    cost seconds."""
    counted = candidates.group_by(["campaign", "state"]).aggregate([([], "count_all")])
    return {(c, s): n for c, s, n in zip(*(counted[k].to_pylist() for k in (
        "campaign", "state", "count_all")), strict=True)}


def _table(header: list[str], rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
