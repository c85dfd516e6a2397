"""The tables activation reads, checked up front so a missing layer fails with a clear message.

Required: the customer mart, the order fact, the customers of staging (contact details and consent).
Optional: events (after-sales, unsubscribes, carts, engagement), products and items
(replenishment, new arrivals, VIP), the predictions (replenishment cycles, churn risk, CLV), the
delivery columns of the orders (delivery apology). A campaign whose optional input is missing
proposes nobody and says so in the run's metadata.
"""

from __future__ import annotations

import duckdb

from retention_pipeline.activation.sqlutil import relation_columns

DIM_CUSTOMERS = "marts.dim_customers"
FCT_ORDERS = "marts.fct_orders"
CUSTOMERS = "staging.stg_shop__customers"
EVENTS = "staging.stg_shop__events"
PRODUCTS = "staging.stg_shop__products"
ORDER_ITEMS = "staging.stg_shop__order_items"
OCCASIONS = "intermediate.int_purchase_occasions"
CYCLES = "marts.replenishment_cycles"
PREDICTIONS = "marts.customer_predictions"
# not a table of its own: the optional delivery columns of the order fact (a warehouse built before
# the landing contract had them, or a hand-made one, lacks them)
DELIVERIES = "marts.fct_orders delivery columns"

REQUIRED_COLUMNS: dict[str, set[str]] = {
    DIM_CUSTOMERS: {
        "customer_id", "first_occasion_date", "last_occasion_date", "occasions", "net_revenue",
        "avg_days_between_occasions", "rfm_segment", "member_tier",
    },
    FCT_ORDERS: {
        "order_id", "customer_id", "ordered_at", "order_date", "net_amount", "is_valid_purchase",
        "occasion_seq",
    },
    CUSTOMERS: {
        "customer_id", "created_at", "updated_at", "email", "phone", "push_token", "wechat_openid",
        "accepts_email", "accepts_sms", "accepts_push", "accepts_wechat", "first_name", "language",
        "timezone", "birthday",
    },
    OCCASIONS: {"customer_id", "occasion_date"},
}

OPTIONAL_COLUMNS: dict[str, set[str]] = {
    EVENTS: {"event_id", "event_type", "occurred_at", "customer_id", "properties"},
    PRODUCTS: {"product_id", "product_name", "category", "launched_at"},
    ORDER_ITEMS: {"order_id", "product_id", "line_amount"},
    CYCLES: {"category", "cycle_days"},
    PREDICTIONS: {"customer_id", "churn_risk"},
    DELIVERIES: {"status", "shipped_at", "delivered_at", "delivered_date", "promised_delivery_date",
                 "delivery_days", "days_late"},
}
_RELATION_OF = {DELIVERIES: FCT_ORDERS}


class ActivationInputError(RuntimeError):
    """A table activation needs is missing or lacks columns."""


def check_required(con: duckdb.DuckDBPyConnection, relations: set[str] | None = None) -> None:
    """Raise one error listing every required table or column that is missing."""
    problems = []
    for relation, needed in REQUIRED_COLUMNS.items():
        if relations is not None and relation not in relations:
            continue
        columns = relation_columns(con, relation)
        if columns is None:
            problems.append(f"{relation} does not exist")
        elif needed - columns:
            problems.append(f"{relation} lacks column(s) {sorted(needed - columns)}")
    if problems:
        raise ActivationInputError(
            "activation cannot run: " + "; ".join(problems) + ". Build the dbt models first "
            "(`retention run` or `dbt build`)."
        )


def available(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """True when an optional input exists with the columns activation reads."""
    columns = relation_columns(con, _RELATION_OF.get(relation, relation))
    return columns is not None and OPTIONAL_COLUMNS.get(relation, set()) <= columns


def build_purchases(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `activation_purchases`: one row per line of a valid order, with its category.

    Built once and shared by the rules that need what was bought (replenishment, new arrivals,
    the nudge's category). Empty when the shop sends no items or products.
    """
    if available(con, ORDER_ITEMS) and available(con, PRODUCTS):
        con.execute(f"""
            create or replace temp table activation_purchases as
            select
                o.customer_id,
                o.order_id,
                o.order_date,
                o.ordered_at,
                i.product_id,
                p.product_name,
                coalesce(p.category, 'uncategorized') as category,
                coalesce(i.line_amount, 0) as line_amount
            from {FCT_ORDERS} as o
            join {ORDER_ITEMS} as i on i.order_id = o.order_id
            left join {PRODUCTS} as p on p.product_id = i.product_id
            where o.is_valid_purchase and o.customer_id is not null
        """)
    else:
        con.execute("""
            create or replace temp table activation_purchases (
                customer_id varchar, order_id varchar, order_date date, ordered_at timestamp,
                product_id varchar, product_name varchar, category varchar, line_amount decimal(18, 4)
            )
        """)
