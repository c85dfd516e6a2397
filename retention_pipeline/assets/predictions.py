"""Predictions as Dagster assets, between the two dbt phases (docs/predictions.md).

    marts/model_backtest        calibration/holdout check of BG/NBD and Pareto/NBD, with a chart
    marts/model_fit             BG/NBD, Pareto/NBD, Gamma-Gamma fitted for the as-of date, one
                                purchase model selected (auto: by the backtest); history kept
    marts/prediction_scores     every distinct (x, t_x, T) history scored with that day's
                                selected model; the dbt model customer_predictions (phase 2)
                                joins them to the customers

The backtest and the fits run every model_refit_days days; on the days between, they record
nothing and the day is scored with the last fit (model_runs.fit_in_force, docs/predictions.md).

They read the histories dbt computed (intermediate.int_prediction_*) from the dbt target and write
their tables back to it (retention_pipeline/targets). Below the data minimums (settings
prediction_min_*) or with too few customers to fit, the assets still succeed: the tables are
written empty (with their columns) and the metadata says why. The logic lives in
retention_pipeline/predictions; this module only wires it.
"""


import dagster as dg

from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.settings import Settings

GROUP = "predictions"
MODEL_FIT_KEY = dg.AssetKey(["marts", "model_fit"])
SCORES_KEY = dg.AssetKey(["marts", "prediction_scores"])
BACKTEST_KEY = dg.AssetKey(["marts", "model_backtest"])

PATTERNS_KEY = dg.AssetKey(["intermediate", "int_prediction_patterns"])
SPEND_KEY = dg.AssetKey(["intermediate", "int_prediction_spend"])
HOLDOUT_DAYS_KEY = dg.AssetKey(["intermediate", "int_prediction_holdout_days"])


def build_prediction_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list:
    """The prediction assets, all on the shared daily partitions (key = as-of date)."""
    return [
        _model_fit_asset(settings, partitions),
        _prediction_scores_asset(settings, partitions),
        _model_backtest_asset(settings, partitions),
    ]


def _common(settings: Settings, partitions: dg.PartitionsDefinition) -> dict:
    return {"group_name": GROUP, "kinds": {settings.dbt_target, "python"},
            **daily_asset_options(partitions)}


def _model_fit_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=MODEL_FIT_KEY,
        # the backtest comes first: purchase_model = auto chooses by its holdout errors
        deps=[PATTERNS_KEY, SPEND_KEY, BACKTEST_KEY],
        description="`marts.model_fit`: BG/NBD (r, alpha, a, b), Pareto/NBD (r, alpha, s, beta) "
        "and Gamma-Gamma (p, q, gamma) fitted by maximum likelihood on every customer's occasions "
        "up to the as-of date; `selected` marks the purchase model that scores the customers and "
        "`selection_reason` says why; one row per model run and parameter, history kept. Fitted "
        "every model_refit_days days; the days between are scored with the last fit.",
        **_common(settings, partitions),
    )
    def model_fit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.predictions.model_runs import (
            ReusedFit,
            daily_model_run,
            write_model_fit,
        )

        as_of = as_of_from_partition(context.partition_key)
        run = daily_model_run(settings, as_of)
        rows = write_model_fit(settings, run)
        if isinstance(run, ReusedFit):
            context.log.info("no new fit for %s: %s", as_of, run.reason)
            return dg.MaterializeResult(metadata={
                "dagster/row_count": dg.MetadataValue.int(rows),
                "fit_in_force": dg.MetadataValue.text(run.fitted_for.isoformat()),
                "why_no_new_fit": dg.MetadataValue.text(run.reason),
            })
        metadata = {
            "customers": dg.MetadataValue.int(run.customers),
            "repeat_customers": dg.MetadataValue.int(run.repeat_customers),
            "time_unit_days": dg.MetadataValue.float(float(run.unit_days)),
            "fit_seconds": dg.MetadataValue.float(round(run.seconds, 3)),
            "dagster/row_count": dg.MetadataValue.int(rows),
        }
        for fit in run.fits():
            metadata.update(_fit_metadata(fit))
        metadata["purchase_model"] = dg.MetadataValue.text(run.selected or "none")
        metadata["selection_reason"] = dg.MetadataValue.text(run.selection_reason)
        for name, error in run.holdout_errors.items():
            metadata[f"{name}_holdout_error"] = dg.MetadataValue.float(round(error, 3))
        if run.data is not None:
            metadata["frequent_customers"] = dg.MetadataValue.int(run.data.frequent_customers)
            metadata["history_days"] = dg.MetadataValue.int(run.data.history_days)
        refused = [f"{f.model}: {f.status} ({f.message})" for f in run.fits() if not f.ok]
        if refused:
            metadata["not_fitted"] = dg.MetadataValue.text("; ".join(refused))
            context.log.warning("model(s) not fitted for %s: %s", as_of, "; ".join(refused))
        return dg.MaterializeResult(metadata=metadata)

    return model_fit


def _prediction_scores_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=SCORES_KEY,
        deps=[MODEL_FIT_KEY, PATTERNS_KEY],
        description="`marts.prediction_scores`: per distinct (x, t_x, T) history of the as-of "
        "date (in days), P(alive), P(a purchase within the churn horizon), P(no purchase in 90 "
        "days), expected purchases in 90 and 365 days, discounted purchases in 365 days and "
        "churn_risk, from the purchase model selected in the model_fit in force (the as-of "
        "date's, or between refits the last one); the dbt "
        "model customer_predictions joins them to the customers.",
        **_common(settings, partitions),
    )
    def prediction_scores(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.predictions.scoring import score_patterns

        as_of = as_of_from_partition(context.partition_key)
        outcome = score_patterns(settings, as_of)
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(outcome.patterns),
            "customers": dg.MetadataValue.int(outcome.rows),
            "distinct_histories": dg.MetadataValue.int(outcome.patterns),
            "scoring_seconds": dg.MetadataValue.float(round(outcome.seconds, 3)),
            "purchase_model": dg.MetadataValue.text(outcome.model or "none"),
            "fit_of": dg.MetadataValue.text(str(outcome.fitted_for or "none")),
            "churn_risk": dg.MetadataValue.md(
                _table(["churn_risk", "customers"], outcome.bands.items())
            ),
            **{k: dg.MetadataValue.float(round(v, 4)) for k, v in outcome.totals.items()},
        }
        if outcome.reason:
            metadata["why_incomplete"] = dg.MetadataValue.text(outcome.reason)
            context.log.warning("prediction_scores for %s: %s", as_of, outcome.reason)
        return dg.MaterializeResult(metadata=metadata)

    return prediction_scores


def _model_backtest_asset(settings: Settings, partitions: dg.PartitionsDefinition):
    @dg.asset(
        key=BACKTEST_KEY,
        deps=[PATTERNS_KEY, HOLDOUT_DAYS_KEY],
        description="`marts.model_backtest`: BG/NBD and Pareto/NBD fitted up to a calibration "
        "end, predicted vs actual repeat purchases in the holdout up to the as-of date, overall "
        "and by calibration frequency, per model; the cumulative chart is in the metadata.",
        **_common(settings, partitions),
    )
    def model_backtest(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.predictions.backtest import run_backtest, write_backtest

        as_of = as_of_from_partition(context.partition_key)
        outcome = run_backtest(settings, as_of)
        rows = write_backtest(settings, outcome)
        return dg.MaterializeResult(metadata=_backtest_metadata(context, outcome, rows))

    return model_backtest


def _fit_metadata(fit) -> dict:
    prefix = fit.model
    metadata = {
        f"{prefix}_status": dg.MetadataValue.text(fit.status),
        f"{prefix}_customers": dg.MetadataValue.int(fit.n_customers),
    }
    if fit.ok:
        metadata[f"{prefix}_log_likelihood"] = dg.MetadataValue.float(fit.log_likelihood)
        metadata[f"{prefix}_parameters"] = dg.MetadataValue.md(
            _table(["parameter", "value"], ((k, f"{v:.6g}") for k, v in fit.params.items()))
        )
        # one float per parameter: the UI plots numeric metadata across partitions
        for name, value in fit.params.items():
            metadata[f"{prefix}_{name}"] = dg.MetadataValue.float(value)
    else:
        metadata[f"{prefix}_why_not_fitted"] = dg.MetadataValue.text(fit.message)
    return metadata


def _backtest_metadata(context, outcome, rows: int) -> dict:
    from retention_pipeline.predictions.backtest_plot import backtest_markdown

    metadata = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "calibration_end": dg.MetadataValue.text(outcome.calibration_end.isoformat()),
        "holdout_days": dg.MetadataValue.int(outcome.holdout_days),
    }
    if outcome.reason:
        metadata["why_no_backtest"] = dg.MetadataValue.text(outcome.reason)
        # on the days between refits there is no backtest by design: not worth a warning
        log = context.log.info if outcome.fit_in_force is not None else context.log.warning
        log("no backtest for %s: %s", outcome.as_of, outcome.reason)
        return metadata
    overall = outcome.overall
    metadata.update(
        {
            "models": dg.MetadataValue.text(", ".join(outcome.models)),
            "actual_repeat_purchases": dg.MetadataValue.int(overall["actual_repeat_purchases"]),
            "cumulative_repeat_purchases": dg.MetadataValue.md(backtest_markdown(outcome)),
            "by_calibration_frequency": dg.MetadataValue.md(
                _table(
                    ["model", "repeat occasions", "customers", "actual", "predicted"],
                    (
                        (r["model"], r["bucket"], r["customers"], r["actual_repeat_purchases"],
                         f"{r['predicted_repeat_purchases']:.1f}")
                        for r in outcome.rows
                    ),
                )
            ),
        }
    )
    errors = outcome.holdout_errors()
    for model in outcome.models:
        fit, row = outcome.fits[model], outcome.overall_of(model)
        prefix = "" if model == outcome.models[0] else f"{model}_"
        metadata[f"{prefix}predicted_repeat_purchases"] = dg.MetadataValue.float(
            round(row["predicted_repeat_purchases"], 2)
        )
        metadata[f"{model}_holdout_error"] = dg.MetadataValue.float(round(errors[model], 3))
        metadata[f"{prefix}calibration_log_likelihood"] = dg.MetadataValue.float(
            fit.log_likelihood
        )
        metadata[f"{prefix}calibration_parameters"] = dg.MetadataValue.md(
            _table(["parameter", "value"], ((k, f"{v:.6g}") for k, v in fit.params.items()))
        )
        if row["relative_error"] is not None:
            metadata[f"{prefix}relative_error"] = dg.MetadataValue.float(
                round(row["relative_error"], 4)
            )
    return metadata


def _table(header: list[str], rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
