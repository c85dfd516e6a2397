"""CDNOW_sample as a landing folder (docs/metrics.md#inputs): customers.csv and orders.csv.

One order per line of CDNOW_sample.txt: order_id synthetic, ordered_at = the purchase date
(midnight UTC), total_amount = the dollar value. Several lines of one customer and day become one
purchase occasion downstream, as in the published summaries.
"""

from __future__ import annotations

from pathlib import Path

from tests import cdnow


def write_cdnow_landing(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = cdnow.transactions()
    customers = sorted(lines["customer_id"].unique())
    (folder / "customers.csv").write_text(
        "customer_id\n" + "".join(f"{c}\n" for c in customers), encoding="utf-8"
    )
    orders = ["order_id,customer_id,ordered_at,total_amount"]
    orders += [
        f"cdnow-{i},{row.customer_id},{row.occasion_date.date().isoformat()},"
        f"{row.occasion_value:.2f}"
        for i, row in enumerate(lines.itertuples(index=False), start=1)
    ]
    (folder / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    return folder
