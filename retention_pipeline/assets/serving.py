"""Serving copies as Dagster assets (group `serving`): published after the marts and their checks.

    serving/duckdb_file  the DuckDB serving file (setting `serving`), always
    serving/postgres     PostgreSQL schema `marts` (setting `serving_postgres_url`), when set
    serving/parquet      <folder>/<mart>.parquet (setting `serving_parquet`), when set

Each depends on every asset that writes schema `marts`. A failing blocking check fails the step
of its asset, and Dagster then skips what is downstream: the copies are not touched and keep the
previously published day. Each asset carries a check that the copy's row counts, read back from
the copy itself, equal the warehouse's. The logic lives in retention_pipeline/serving.
"""

import datetime as dt
from collections.abc import Callable, Iterable

import dagster as dg

from retention_pipeline.partitions import as_of_from_partition, daily_asset_options
from retention_pipeline.settings import Settings

GROUP = "serving"
ROWS_CHECK = "rows_match_warehouse"
DUCKDB_FILE_KEY = dg.AssetKey(["serving", "duckdb_file"])
POSTGRES_KEY = dg.AssetKey(["serving", "postgres"])
PARQUET_KEY = dg.AssetKey(["serving", "parquet"])


def mart_asset_keys(keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """The assets that write tables of schema `marts` (dbt marts, predictions, activation)."""
    return sorted((k for k in keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())


def build_serving_assets(
    settings: Settings, partitions: dg.PartitionsDefinition, upstream: list[dg.AssetKey]
) -> list[dg.AssetsDefinition]:
    from retention_pipeline.serving import duckdb_file, parquet, postgres
    from retention_pipeline.serving.days import history_days

    assets = [_asset(
        settings, partitions, upstream, DUCKDB_FILE_KEY, duckdb_file.TARGET, "duckdb",
        f"DuckDB serving file `{settings.serving}` for BI tools: every mart, moved over the old "
        "file atomically, readable by DuckDB 1.x.",
        lambda con, marts, log, as_of: duckdb_file.publish_duckdb_file(
            con, marts, settings.serving, history_days(settings.warehouse, duckdb_file.TARGET, as_of)),
        lambda names: duckdb_file.duckdb_file_counts(settings.serving, settings),
    )]
    if settings.serving_postgres_url:
        url = settings.serving_postgres_url
        assets.append(_asset(
            settings, partitions, upstream, POSTGRES_KEY, postgres.TARGET, "postgres",
            f"PostgreSQL schema `marts` at {postgres.endpoint(url)}: loaded into a fresh schema "
            f"and swapped in one transaction; read-only role `{settings.serving_postgres_reader_role}`.",
            lambda con, marts, log, _as_of: postgres.publish_postgres(
                con, marts, url, settings.serving_postgres_reader_role,
                settings.serving_postgres_swap_timeout, log),
            lambda names: postgres.postgres_counts(url, names),
        ))
    if settings.serving_parquet is not None:
        folder = settings.serving_parquet
        assets.append(_asset(
            settings, partitions, upstream, PARQUET_KEY, parquet.TARGET, "parquet",
            f"Parquet serving files `{folder}/<mart>.parquet`, each replaced atomically.",
            lambda con, marts, log, _as_of: parquet.publish_parquet(con, marts, folder),
            lambda names: parquet.parquet_counts(folder, names),
        ))
    return assets


def _asset(settings, partitions, upstream, key, target, kind, description,
           publish: Callable, read_counts: Callable[[list[str]], dict[str, int]]):
    @dg.asset(
        key=key,
        deps=upstream,
        group_name=GROUP,
        kinds={kind},
        description=description,
        check_specs=[dg.AssetCheckSpec(
            ROWS_CHECK, asset=key,
            description="Row counts read back from the published copy equal the warehouse's.",
        )],
        **daily_asset_options(partitions),
    )
    def _publish(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from retention_pipeline.serving.log import record_publish
        from retention_pipeline.serving.personal import default_personal_columns
        from retention_pipeline.serving.tables import marts_reader, served_marts

        as_of = as_of_from_partition(context.partition_key)
        personal = default_personal_columns()
        with marts_reader(settings) as con:
            marts = served_marts(con, personal, settings.serve_personal_data)
            written = publish(con, marts, context.log.warning, as_of)
        published_at = dt.datetime.now(dt.UTC)
        record_publish(settings.warehouse, target, as_of, published_at, marts)
        expected = {m.name: m.rows for m in marts}
        published = read_counts(list(expected))
        left_out = [] if settings.serve_personal_data else sorted(personal)
        return dg.MaterializeResult(
            metadata={
                "as_of_date": as_of.isoformat(),
                "published_at": dg.MetadataValue.timestamp(published_at),
                "tables": dg.MetadataValue.int(len(marts)),
                "rows": dg.MetadataValue.json(expected),
                "personal_data_left_out": dg.MetadataValue.json(left_out),
                # the DuckDB file changes only the rows that differ: how many it wrote
                **({"rows_written": dg.MetadataValue.json(written)}
                   if isinstance(written, dict) else {}),
            },
            check_results=[dg.AssetCheckResult(
                check_name=ROWS_CHECK,
                passed=published == expected,
                metadata={"mismatches": dg.MetadataValue.json({
                    t: {"warehouse": n, "published": published.get(t)}
                    for t, n in expected.items() if published.get(t) != n})},
            )],
        )

    return _publish
