"""Customer-level predictions: BG/NBD (who comes back, how often), Gamma-Gamma (what an order is
worth), CLV. Pure numpy/scipy functions, independent of Dagster and dbt; the assets wire them.

Typical use on a summary from `summary_sql` / `customer_summary` (time unit: days or weeks):

    fit = fit_bgnbd(s.x, s.t_x, s.T, min_customers=..., min_repeat_customers=...)
    if fit.ok:
        p_alive = bgnbd_p_alive(fit.params, s.x, s.t_x, s.T)
        e90 = bgnbd_expected_purchases(fit.params, 90, s.x, s.t_x, s.T)
    spend = fit_gamma_gamma(s.x, s.monetary, min_repeat_customers=...)
    if fit.ok and spend.ok:
        value = gamma_gamma_expected_value(spend.params, s.x, s.monetary)
        value_365 = clv(fit.params, s.x, s.t_x, s.T, value, periods=12,
                        period_length=365 / 12, discount_rate=monthly_rate)
"""

from .bgnbd import (
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    fit_bgnbd,
)
from .clv import clv
from .fitting import ModelFit, compress_rows
from .gamma_gamma import (
    fit_gamma_gamma,
    gamma_gamma_expected_value,
    gamma_gamma_log_likelihood,
)
from .simulate import simulate_bgnbd
from .summary import customer_summary, summary_sql

__all__ = [
    "ModelFit",
    "bgnbd_expected_purchases",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "clv",
    "compress_rows",
    "customer_summary",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_expected_value",
    "gamma_gamma_log_likelihood",
    "simulate_bgnbd",
    "summary_sql",
]
