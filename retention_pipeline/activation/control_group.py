"""Stable control groups and deterministic draws: md5 of a string, mapped to [0, 1).

md5 is used (not DuckDB's `hash()`) because its value is fixed by RFC 1321: the same customer
stays in the same group across runs, DuckDB versions, machines and other engines, and Python can
reproduce it (`bucket`). The first 32 bits of the digest, divided by 2**32, are uniform enough
for shares of a few percent.

A candidate is held out when bucket("<customer_id>|<campaign>") < the campaign's control share:
the same customer is always in (or out of) the control group of a campaign, day after day.
"""

from __future__ import annotations

import hashlib

import duckdb

MACROS = """
create or replace temp macro activation_bucket(key) as
    cast(('0x' || substr(md5(key), 1, 8)) as ubigint) / 4294967296.0;
create or replace temp macro activation_control_key(customer_id, campaign) as
    customer_id || '|' || campaign;
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def bucket(key: str) -> float:
    """Python twin of the SQL macro: md5(key)'s first 32 bits / 2**32."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def is_holdout(customer_id: str, campaign: str, share: float) -> bool:
    return bucket(f"{customer_id}|{campaign}") < share
