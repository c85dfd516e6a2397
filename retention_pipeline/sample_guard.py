"""Which files belong to the sample shop, so that only those are ever replaced or deleted.

With no landing folder, `retention run` / `retention ui` generate the sample shop and may start its
warehouse afresh (a regenerated sample rewrites history under the same ids). That is safe only for
files the sample shop made itself, so each carries a mark:

- the landing folder: `.sample.json` (the generator's parameters);
- the warehouse: the table `raw._sample_shop` (one row, the same parameters), written when the
  warehouse is created for the sample;
- the exports folder: `.sample.json`, written when the folder is taken for the sample.

Anything met without its mark (a warehouse built from a real landing, a folder of real files)
stops the command with an error naming it and asking for `--landing`; nothing is touched. When a
run loads a landing that is not the sample's into a sample warehouse or exports folder, the mark
is removed (`release`): from then on they hold real data and are never replaced again.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from retention_pipeline.files import make_private, private_mkdir
from retention_pipeline.warehouse import open_duckdb

LANDING_MARK = ".sample.json"
EXPORTS_MARK = ".sample.json"
WAREHOUSE_MARK = "raw._sample_shop"


class NotTheSampleError(RuntimeError):
    """A warehouse, landing or exports folder that the sample shop did not create."""


def _refuse(what: str, path: Path, why: str) -> NotTheSampleError:
    return NotTheSampleError(
        f"{what} {path} {why}, so it was not created for the sample shop and is left untouched. "
        "Pass --landing DIR (or RETENTION_LANDING) with the landing folder it belongs to, or "
        f"choose another --{what.split()[0]} for the sample shop."
    )


# --- the warehouse ----------------------------------------------------------------------------


def warehouse_mark(warehouse: Path) -> dict | None:
    """The sample's parameters stored in the warehouse; None when it has no mark (or no file).

    Raises NotTheSampleError when the file exists but cannot be read as DuckDB (another program's
    file, or a warehouse locked by a running writer): better to stop than to guess.
    """
    warehouse = Path(warehouse)
    if not warehouse.exists():
        return None
    try:
        con = open_duckdb(warehouse, read_only=True)
    except duckdb.Error as exc:
        raise NotTheSampleError(
            f"warehouse {warehouse} exists but cannot be opened to check whether it is the sample "
            f"shop's ({exc}); nothing was changed. Pass --landing DIR to run on it."
        ) from exc
    try:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = '_sample_shop'"
        ).fetchone()[0]
        if not found:
            return None
        row = con.execute(f"select params from {WAREHOUSE_MARK}").fetchone()
        return json.loads(row[0]) if row else {}
    finally:
        con.close()


def check_warehouse(warehouse: Path) -> dict | None:
    """The mark of a sample warehouse, None when there is no file; raises for any other file."""
    warehouse = Path(warehouse)
    mark = warehouse_mark(warehouse)
    if warehouse.exists() and mark is None:
        raise _refuse("warehouse", warehouse, "has no raw._sample_shop mark")
    return mark


def mark_warehouse(warehouse: Path, params: dict, settings=None) -> None:
    """Create the sample's warehouse (the file must not exist yet) with its mark."""
    con = open_duckdb(warehouse, settings=settings)
    make_private(warehouse, settings)
    try:
        con.execute("create schema if not exists raw")
        con.execute(f"create table {WAREHOUSE_MARK} (params varchar)")
        con.execute(f"insert into {WAREHOUSE_MARK} values (?)", [json.dumps(params, sort_keys=True)])
    finally:
        con.close()


# --- folders ------------------------------------------------------------------------------------


def _visible_entries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []


def check_folder(what: str, folder: Path, mark: str) -> None:
    """A folder may be used for the sample when it is missing, empty, or carries the mark."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise _refuse(what, folder, "is not a folder")
    if _visible_entries(folder) and not (folder / mark).is_file():
        raise _refuse(what, folder, f"holds files but no {mark} mark")


def landing_is_sample(landing: Path) -> bool:
    return (Path(landing) / LANDING_MARK).is_file()


def mark_exports(exports: Path, params: dict, settings=None) -> None:
    exports = private_mkdir(Path(exports), settings)
    (exports / EXPORTS_MARK).write_text(json.dumps(params, sort_keys=True))


def release(con: duckdb.DuckDBPyConnection, exports: Path | None = None) -> None:
    """Real data is about to be written: the warehouse (and exports) stop being the sample's."""
    con.execute(f"drop table if exists {WAREHOUSE_MARK}")
    if exports is not None:
        (Path(exports) / EXPORTS_MARK).unlink(missing_ok=True)
