"""Hand-made warehouses for the activation tests.

The activation layer reads tables other layers build (staging, intermediate, marts, predictions,
seeds). These fixtures create the same tables with the same names and the columns activation
reads, filled row by row by a test, so each rule is tested on a handful of customers independently
of the other layers. The contact-policy seeds are the real CSVs, loaded with the column types of
their dbt YAML (so a CSV that dbt would type differently fails here too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path
from typing import Any

import duckdb
import yaml

from retention_pipeline.activation.build import (
    SELECTION,
    ActivationBuildError,
    BuildResult,
    build_activation,
)
from retention_pipeline.paths import DBT_PROJECT_DIR
from retention_pipeline.settings import Settings

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
POLICY_SEEDS = (
    "contact_policy_presets", "contact_policy_campaigns", "contact_policy_caps", "time_zones",
)

DDL = """
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists seeds;
create table staging.stg_shop__customers (
    customer_id varchar, created_at timestamp, email varchar, phone varchar, first_name varchar,
    birthday date, gender varchar, country varchar, language varchar, timezone varchar,
    acquisition_channel varchar, accepts_email boolean, accepts_sms boolean, accepts_push boolean,
    accepts_wechat boolean, wechat_openid varchar, push_token varchar, updated_at timestamp
);
create table staging.stg_shop__products (
    product_id varchar, product_name varchar, category varchar, price decimal(18, 4),
    launched_at timestamp, updated_at timestamp
);
create table staging.stg_shop__order_items (
    order_id varchar, line_id varchar, product_id varchar, quantity integer,
    unit_price decimal(18, 4), line_amount decimal(18, 4)
);
create table staging.stg_shop__events (
    event_id varchar, event_type varchar, occurred_at timestamp, customer_id varchar, properties json
);
create table marts.fct_orders (
    order_id varchar, customer_id varchar, ordered_at timestamp, order_date date,
    net_amount decimal(18, 4), is_valid_purchase boolean, occasion_seq integer,
    status varchar, shipped_at timestamp, delivered_at timestamp, delivered_date date,
    promised_delivery_date date, delivery_days integer, days_late integer
);
create table marts.replenishment_cycles (
    category varchar, cycle_days double, sample_size integer, source varchar
);
create table marts.customer_predictions (
    customer_id varchar, p_alive double, churn_risk varchar, predicted_clv_365d double
);
create table fixture_segments (customer_id varchar, rfm_segment varchar, member_tier varchar);
"""

DERIVE = """
create or replace table intermediate.int_purchase_occasions as
select
    customer_id,
    order_date as occasion_date,
    row_number() over (partition by customer_id order by order_date) as occasion_seq,
    count(*) as orders,
    sum(net_amount) as net_amount
from marts.fct_orders
where is_valid_purchase and customer_id is not null
group by customer_id, order_date;

update marts.fct_orders as f set occasion_seq = o.occasion_seq
from intermediate.int_purchase_occasions as o
where f.is_valid_purchase and f.customer_id = o.customer_id and f.order_date = o.occasion_date;

create or replace table intermediate.int_order_lines as
select
    o.order_id, i.line_id, o.customer_id, o.order_date, o.ordered_at, o.status,
    o.is_valid_purchase, i.product_id, i.quantity, i.line_amount
from marts.fct_orders as o
inner join staging.stg_shop__order_items as i on i.order_id = o.order_id;

create or replace table marts.dim_customers as
with occ as (
    select customer_id, min(occasion_date) as first_occasion_date,
           max(occasion_date) as last_occasion_date, count(*) as occasions,
           sum(net_amount) as net_revenue
    from intermediate.int_purchase_occasions
    group by customer_id
)
select
    c.customer_id,
    o.first_occasion_date,
    o.last_occasion_date,
    coalesce(o.occasions, 0) as occasions,
    coalesce(o.net_revenue, 0) as net_revenue,
    case when o.occasions >= 2
         then (o.last_occasion_date - o.first_occasion_date) / (o.occasions - 1) end
        as avg_days_between_occasions,
    s.rfm_segment,
    s.member_tier
from staging.stg_shop__customers as c
left join occ as o using (customer_id)
left join fixture_segments as s using (customer_id);
"""


def load_policy_seeds(con: duckdb.DuckDBPyConnection, seeds_dir: Path = SEEDS_DIR) -> None:
    """Load the contact-policy CSVs into schema `seeds`, typed as their dbt YAML says."""
    spec = yaml.safe_load((seeds_dir / "_contact_policy.yml").read_text())
    types = {s["name"]: s["config"]["column_types"] for s in spec["seeds"]}
    con.execute("create schema if not exists seeds")
    for name in POLICY_SEEDS:
        columns = ", ".join(f"'{c}': '{t}'" for c, t in types[name].items())
        path = str(seeds_dir / f"{name}.csv").replace("'", "''")
        con.execute(
            f"create or replace table seeds.{name} as "
            f"select * from read_csv('{path}', header = true, columns = {{{columns}}})"
        )


CONTACT_LOG_DDL = """
create table if not exists marts.contact_log (
    as_of_date date, customer_id varchar, campaign varchar, category varchar, dedupe_key varchar,
    state varchar, channel varchar, send_at_utc timestamp, send_at_local timestamp,
    recipient_timezone varchar, context varchar
)
"""


def bucket(key: str) -> float:
    """md5(key)'s first 32 bits / 2**32, computed independently of the SQL (control group, draws)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def is_holdout(customer_id: str, campaign: str, share: float) -> bool:
    return bucket(f"{customer_id}|{campaign}") < share


class Shop:
    """A warehouse file with the tables activation reads, built row by row."""

    def __init__(self, folder: Path, reporting_tz: str = "UTC"):
        self.folder = Path(folder)
        self.path = self.folder / "warehouse.duckdb"
        self.con = self._connect()
        self.con.execute(DDL)
        load_policy_seeds(self.con)
        self.reporting_tz = reporting_tz
        self._ids = itertools.count(1)

    # --- settings -----------------------------------------------------------------------------
    def settings(self, **overrides: Any) -> Settings:
        values = {
            "warehouse": self.path,
            "exports": self.folder / "exports",
            "reporting_tz": self.reporting_tz,
            "control_share": 0.0,
            **overrides,
        }
        return Settings(**values)

    # --- rows ---------------------------------------------------------------------------------
    def customer(self, customer_id: str, **fields: Any) -> str:
        row = {
            "customer_id": customer_id,
            "created_at": dt.datetime(2020, 1, 1),
            "email": f"{customer_id}@example.com",
            "phone": None,
            "first_name": customer_id.title(),
            "birthday": None,
            "language": "en",
            "timezone": "UTC",
            "accepts_email": True,
            "accepts_sms": False,
            "accepts_push": False,
            "accepts_wechat": False,
            "wechat_openid": None,
            "push_token": None,
            "updated_at": dt.datetime(2020, 1, 1),
            **fields,
        }
        self._insert("staging.stg_shop__customers", row)
        return customer_id

    def order(
        self,
        customer_id: str | None,
        day: dt.date,
        amount: float = 50.0,
        items: list[tuple[str, float]] | None = None,
        valid: bool = True,
        hour: int = 12,
        order_id: str | None = None,
    ) -> str:
        order_id = order_id or f"o{next(self._ids)}"
        self._insert("marts.fct_orders", {
            "order_id": order_id,
            "customer_id": customer_id,
            "ordered_at": dt.datetime.combine(day, dt.time(hour)),
            "order_date": day,
            "net_amount": amount,
            "is_valid_purchase": valid,
            "occasion_seq": None,
        })
        for n, (product_id, line_amount) in enumerate(items or [], start=1):
            self._insert("staging.stg_shop__order_items", {
                "order_id": order_id, "line_id": str(n), "product_id": product_id, "quantity": 1,
                "unit_price": line_amount, "line_amount": line_amount,
            })
        return order_id

    def product(
        self, product_id: str, category: str, launched_at: dt.datetime | None = None,
        name: str | None = None,
    ) -> str:
        self._insert("staging.stg_shop__products", {
            "product_id": product_id, "product_name": name or f"Product {product_id}",
            "category": category, "price": 10, "launched_at": launched_at, "updated_at": None,
        })
        return product_id

    def event(
        self, customer_id: str, event_type: str, occurred_at: dt.datetime,
        event_id: str | None = None, **properties: Any,
    ) -> str:
        import json

        event_id = event_id or f"e{next(self._ids)}"
        self._insert("staging.stg_shop__events", {
            "event_id": event_id, "event_type": event_type, "occurred_at": occurred_at,
            "customer_id": customer_id, "properties": json.dumps(properties) if properties else None,
        })
        return event_id

    def delivery(
        self, order_id: str, shipped_at: dt.datetime | None = None,
        delivered_at: dt.datetime | None = None, promised: dt.date | None = None,
        status: str = "completed",
    ) -> None:
        """The order's delivery columns, with the local dates and day counts fct_orders derives
        from them."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(self.reporting_tz)
        delivered_date = (
            delivered_at.replace(tzinfo=dt.UTC).astimezone(tz).date() if delivered_at else None
        )
        [(order_date,)] = self.con.execute(
            "select order_date from marts.fct_orders where order_id = ?", [order_id]).fetchall()
        self.con.execute(
            "update marts.fct_orders set status = ?, shipped_at = ?, delivered_at = ?, "
            "delivered_date = ?, promised_delivery_date = ?, delivery_days = ?, days_late = ? "
            "where order_id = ?",
            [status, shipped_at, delivered_at, delivered_date, promised,
             (delivered_date - order_date).days if delivered_date else None,
             (delivered_date - promised).days if delivered_date and promised else None, order_id],
        )

    def segment(self, customer_id: str, rfm: str | None = None, tier: str | None = None) -> None:
        self._insert("fixture_segments", {
            "customer_id": customer_id, "rfm_segment": rfm, "member_tier": tier,
        })

    def cycles(self, **cycle_days: float) -> None:
        for category, days in cycle_days.items():
            self._insert("marts.replenishment_cycles", {
                "category": category, "cycle_days": days, "sample_size": 50, "source": "observed",
            })

    def predictions(self, **churn_risk: str) -> None:
        for customer_id, risk in churn_risk.items():
            self._insert("marts.customer_predictions", {
                "customer_id": customer_id, "p_alive": 0.5, "churn_risk": risk,
            })

    def derive(self) -> None:
        """Occasions, order lines and dim_customers from the orders, as the dbt models would."""
        self.con.execute(DERIVE)

    def log(self, day: dt.date, customer_id: str, campaign: str, channel: str = "email",
            state: str = "queued", dedupe_key: str | None = None,
            category: str = "marketing") -> None:
        """A contact of an earlier day, as the contact_log model would have written it."""
        self.con.execute(CONTACT_LOG_DDL)
        self._insert("marts.contact_log", {
            "as_of_date": day, "customer_id": customer_id, "campaign": campaign,
            "category": category, "dedupe_key": dedupe_key or f"{campaign}:old", "state": state,
            "channel": channel,
        })

    def build(self, as_of: dt.date, command: str = "build", select: str = SELECTION,
              **settings: Any) -> BuildResult:
        """The activation dbt build (real dbt, this warehouse) for `as_of`; check failures are
        returned, not raised (model errors raise)."""
        self.con.close()
        try:
            result = build_activation(self.settings(**settings), as_of, command, select,
                                      raise_on_failure=False)
        finally:
            self.con = self._connect()
        broken = [n for n in result.nodes if n.resource_type == "model" and n.status == "error"]
        if broken:
            raise ActivationBuildError(result)
        return result

    def close(self) -> None:
        self.con.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        con.execute("SET TimeZone = 'UTC'")
        return con

    # --- reading results ------------------------------------------------------------------------
    def candidates(self, **where: Any) -> list[dict]:
        return self.rows("marts.campaign_candidates", **where)

    def rows(self, table: str, **where: Any) -> list[dict]:
        clause = " and ".join(f"{k} = ?" for k in where) or "true"
        cursor = self.con.execute(
            f"select * from {table} where {clause} order by all", list(where.values())
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def one(self, **where: Any) -> dict:
        rows = self.candidates(**where)
        assert len(rows) == 1, f"expected one candidate for {where}, got {rows}"
        return rows[0]

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))
