"""The two purchase models side by side, behind one interface, so that the fit, the backtest and
the scoring can run either one by name ('bgnbd' or 'pareto_nbd').

Every function takes (params, ..., x, t_x, T) in the fit's time unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import bgnbd, paretonbd
from .churn import bgnbd_p_purchase_within


@dataclass(frozen=True)
class PurchaseModel:
    name: str
    label: str
    param_names: tuple[str, ...]
    fit: Callable
    log_likelihood: Callable
    p_alive: Callable
    expected_purchases: Callable  # (params, t, x, t_x, T)
    p_no_purchase: Callable  # (params, t, x, t_x, T): P(no occasion in (T, T + t])

    def fit_patterns(self, patterns, settings):
        """The fit on the compressed (x, t_x, T) patterns (histories.Patterns), each weighted by
        its customers, refused below the settings' minimum customers and repeat customers."""
        return self.fit(
            patterns.x,
            patterns.t_x,
            patterns.T,
            weights=patterns.customers,
            min_customers=settings.min_customers_to_fit,
            min_repeat_customers=settings.min_repeat_customers_to_fit,
        )


def _bgnbd_p_no_purchase(params, t, x, t_x, T) -> np.ndarray:
    return 1.0 - bgnbd_p_purchase_within(params, t, x, t_x, T)


BGNBD = PurchaseModel(
    name=bgnbd.MODEL,
    label="BG/NBD",
    param_names=bgnbd.PARAM_NAMES,
    fit=bgnbd.fit_bgnbd,
    log_likelihood=bgnbd.bgnbd_log_likelihood,
    p_alive=bgnbd.bgnbd_p_alive,
    expected_purchases=bgnbd.bgnbd_expected_purchases,
    p_no_purchase=_bgnbd_p_no_purchase,
)
PARETO_NBD = PurchaseModel(
    name=paretonbd.MODEL,
    label="Pareto/NBD",
    param_names=paretonbd.PARAM_NAMES,
    fit=paretonbd.fit_pareto_nbd,
    log_likelihood=paretonbd.pareto_nbd_log_likelihood,
    p_alive=paretonbd.pareto_nbd_p_alive,
    expected_purchases=paretonbd.pareto_nbd_expected_purchases,
    p_no_purchase=paretonbd.pareto_nbd_p_no_purchase,
)
PURCHASE_MODELS: dict[str, PurchaseModel] = {m.name: m for m in (BGNBD, PARETO_NBD)}


def purchase_model(name: str) -> PurchaseModel:
    try:
        return PURCHASE_MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown purchase model {name!r}; expected one of {sorted(PURCHASE_MODELS)}"
        ) from None
