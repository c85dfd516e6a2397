"""Activation as Dagster assets: candidates → contact log → exports, plus segments and lift.

    marts/campaign_candidates  campaigns + contact policy for the day; carries the blocking checks
    marts/contact_log          the day's queued and held-out contacts (day replaced on re-run)
    marts/segment_members      customer x segment lists
    marts/campaign_lift        treated vs control repurchase per campaign and trigger week
    exports/crm_files          <exports>/<as-of>/ campaigns, segments, manifest.json

The checks on campaign_candidates are blocking: when one fails, neither the contact log nor the
files of the day are written. campaign_candidates reads the contact log of earlier days; that is
not declared as a dependency (it would be a cycle): the in-process executor runs days in order.
The logic lives in retention_pipeline/activation; this module only wires it.
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

# Upstream tables by asset key: dbt models are [schema, model], predictions [marts, table].
CUSTOMER_MART_KEYS = [dg.AssetKey(["marts", "dim_customers"])]
PREDICTION_KEYS = [
    dg.AssetKey(["marts", "customer_predictions"]),
    dg.AssetKey(["marts", "replenishment_cycles"]),
]
CANDIDATE_DEPS = [
    *CUSTOMER_MART_KEYS,
    dg.AssetKey(["marts", "fct_orders"]),
    dg.AssetKey(["intermediate", "int_purchase_occasions"]),
    dg.AssetKey(["staging", "stg_shop__customers"]),
    dg.AssetKey(["staging", "stg_shop__events"]),
    dg.AssetKey(["staging", "stg_shop__products"]),
    dg.AssetKey(["staging", "stg_shop__order_items"]),
    *PREDICTION_KEYS,
    dg.AssetKey(["seeds", "contact_policy_presets"]),
    dg.AssetKey(["seeds", "contact_policy_campaigns"]),
    dg.AssetKey(["seeds", "contact_policy_caps"]),
]
MANIFEST_CHECK = "manifest_matches_files"


def build_activation_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list:
    """The activation assets (with their checks), all on the shared daily partitions."""
    return [
        _candidates_asset(settings, partitions),
        _contact_log_asset(settings, partitions),
        _segment_members_asset(settings, partitions),
        _campaign_lift_asset(settings, partitions),
        _exports_asset(settings, partitions),
    ]


def _common(partitions: dg.PartitionsDefinition) -> dict:
    return {"group_name": GROUP, **daily_asset_options(partitions)}


def _candidates_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    from retention_pipeline.activation.checks import CHECK_DESCRIPTIONS

    @dg.asset(
        key=CANDIDATES_KEY,
        deps=CANDIDATE_DEPS,
        kinds={"duckdb"},
        description="`marts.campaign_candidates`: every candidate of every campaign for the as-of "
        "date and its state (queued, holdout, suppressed) with the reason.",
        check_specs=[
            dg.AssetCheckSpec(name, asset=CANDIDATES_KEY, blocking=True, description=description)
            for name, description in CHECK_DESCRIPTIONS.items()
        ],
        **_common(partitions),
    )
    def campaign_candidates(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import checks, policy
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, settings=settings) as con:
            decision = policy.decide(con, settings, as_of)
            results = checks.run_checks(con, settings, as_of)
        return dg.MaterializeResult(
            metadata=_decision_metadata(decision),
            check_results=[_check_result(r) for r in results],
        )

    return campaign_candidates


def _contact_log_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=CONTACT_LOG_KEY,
        deps=[CANDIDATES_KEY],
        kinds={"duckdb"},
        description="`marts.contact_log`: append-only history of queued and held-out contacts, "
        "read by caps and cooldowns; re-running a day replaces that day's rows.",
        **_common(partitions),
    )
    def contact_log(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import contact_log as log
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, settings=settings) as con:
            logged = log.record_day(con, as_of)
            total = con.execute(f"select count(*) from {log.CONTACT_LOG}").fetchone()[0]
        return dg.MaterializeResult(metadata={
            "contacts_logged_for_day": dg.MetadataValue.int(logged),
            "contacts_in_log": dg.MetadataValue.int(int(total)),
        })

    return contact_log


def _segment_members_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=SEGMENTS_KEY,
        deps=[*CUSTOMER_MART_KEYS, PREDICTION_KEYS[0]],
        kinds={"duckdb"},
        description="`marts.segment_members`: customer x segment for the as-of date (RFM segments, "
        "member tiers, predicted churners).",
        **_common(partitions),
    )
    def segment_members(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import segments
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, settings=settings) as con:
            members = segments.build_segment_members(con, settings, as_of)
        return dg.MaterializeResult(metadata={
            "segments": dg.MetadataValue.md(_table(["segment", "members"], members.items())),
            "rows": dg.MetadataValue.int(sum(members.values())),
        })

    return segment_members


def _campaign_lift_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=LIFT_KEY,
        deps=[CONTACT_LOG_KEY, dg.AssetKey(["intermediate", "int_purchase_occasions"])],
        kinds={"duckdb"},
        description="`marts.campaign_lift`: per campaign and trigger week, repurchase of treated vs "
        "control within the attribution window; absolute and relative lift with a 95 % interval.",
        **_common(partitions),
    )
    def campaign_lift(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import lift
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, settings=settings) as con:
            rows = lift.build_campaign_lift(con, settings, as_of)
        return dg.MaterializeResult(metadata={"rows": dg.MetadataValue.int(rows)})

    return campaign_lift


def _exports_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=EXPORTS_KEY,
        deps=[CANDIDATES_KEY, CONTACT_LOG_KEY, SEGMENTS_KEY],
        kinds={"csv"},
        description="CRM files of the as-of date: campaigns/<campaign>.csv (queued sends), "
        "segments/<segment>.csv, manifest.json; written atomically.",
        check_specs=[dg.AssetCheckSpec(
            MANIFEST_CHECK, asset=EXPORTS_KEY,
            description="Every file of the day's folder is in manifest.json with the same sha256.",
        )],
        **_common(partitions),
    )
    def crm_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.activation import exports
        from retention_pipeline.warehouse import connect

        as_of = as_of_from_partition(context.partition_key)
        with connect(settings.warehouse, read_only=True, settings=settings) as con:
            written = exports.write_exports(con, settings, as_of, settings.exports)
        problems = exports.verify_manifest(written.folder)
        campaigns = {p.split("/")[1][:-4]: n for p, n in written.rows("campaigns/").items()}
        segments = {p.split("/")[1][:-4]: n for p, n in written.rows("segments/").items()}
        return dg.MaterializeResult(
            metadata={
                "folder": dg.MetadataValue.path(str(written.folder)),
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


def _decision_metadata(decision) -> dict:
    from retention_pipeline.activation.policy import STATES

    campaigns = sorted({c for c, _ in decision.counts} | set(decision.enabled))
    rows = [
        [c, *(decision.counts.get((c, s), 0) for s in STATES)] + [decision.skipped.get(c, "")]
        for c in campaigns
    ]
    metadata = {
        "contact_policy_preset": dg.MetadataValue.text(decision.preset),
        "candidates_by_campaign_and_state": dg.MetadataValue.md(
            _table(["campaign", *STATES, "not run because"], rows)
        ),
    }
    for state in STATES:
        metadata[state] = dg.MetadataValue.int(decision.total(state))
    return metadata


def _check_result(result) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=result.name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "failing_rows": dg.MetadataValue.int(result.failing_rows),
            "sample": dg.MetadataValue.json(result.sample),
        },
        description=None if result.passed else
        f"{result.failing_rows} candidate(s) break it; exports of the day are blocked.",
    )


def _table(header: list[str], rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
