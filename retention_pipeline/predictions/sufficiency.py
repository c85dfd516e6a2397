"""Whether the data can carry predictions at all: enough buyers, enough history, enough
customers seen buying three times or more (without them a purchase model cannot tell a customer
who dropped out from one who buys slowly). Below any minimum (settings
prediction_min_customers, prediction_min_history_days, prediction_min_frequent_customers) no
model is fitted and the prediction tables are written empty, the reason recorded in model_fit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from retention_pipeline.settings import Settings

from .histories import Patterns

TOO_FEW_CUSTOMERS = "too_few_customers"
TOO_SHORT_HISTORY = "too_short_history"
TOO_FEW_FREQUENT_CUSTOMERS = "too_few_frequent_customers"


@dataclass(frozen=True)
class DataCheck:
    customers: int
    history_days: int
    frequent_customers: int  # customers with 3 or more occasions
    status: str = "ok"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_data(patterns: Patterns, as_of: dt.date, settings: Settings) -> DataCheck:
    """The minimums of the settings against the as-of date's histories (in days)."""
    customers = patterns.n_customers
    frequent = int(patterns.customers[patterns.x >= 2].sum())
    # the longest T is the first occasion of all, seen from the as-of date
    history = int(patterns.t_days.max()) if customers else 0
    first = as_of - dt.timedelta(days=history) if customers else None
    counts = {"customers": customers, "history_days": history, "frequent_customers": frequent}
    if customers < settings.prediction_min_customers:
        return DataCheck(**counts, status=TOO_FEW_CUSTOMERS, reason=(
            f"{customers} customers with a valid purchase < prediction_min_customers "
            f"{settings.prediction_min_customers}"))
    if history < settings.prediction_min_history_days:
        return DataCheck(**counts, status=TOO_SHORT_HISTORY, reason=(
            f"{history} days of history (first occasion {first}) < "
            f"prediction_min_history_days {settings.prediction_min_history_days}"))
    if frequent < settings.prediction_min_frequent_customers:
        return DataCheck(**counts, status=TOO_FEW_FREQUENT_CUSTOMERS, reason=(
            f"{frequent} customers with 3+ occasions < prediction_min_frequent_customers "
            f"{settings.prediction_min_frequent_customers}"))
    return DataCheck(**counts)
