"""The backtest chart for the Dagster UI: predicted vs actual cumulative repeat purchases over the
holdout, as a PNG embedded in Markdown metadata (a data URI).

Drawn with matplotlib's object API on an Agg canvas: no pyplot, so no global backend state and
no display needed (cron, the UI's code server).
"""

from __future__ import annotations

import base64
import datetime as dt
import io

from .backtest import BacktestOutcome
from .purchase_models import purchase_model


def backtest_png(outcome: BacktestOutcome) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curve = outcome.curve
    if curve is None:
        raise ValueError("the backtest has no curve to plot")
    figure = Figure(figsize=(7.0, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.step(
        _dates(outcome.calibration_end, curve.actual_days),
        curve.actual_cumulative,
        where="post",
        label="actual",
        color="#1f4e79",
    )
    for (model, predicted), color in zip(outcome.curves.items(), ("#c55a11", "#548235")):
        axes.plot(
            _dates(outcome.calibration_end, predicted.predicted_days),
            predicted.predicted_cumulative,
            linestyle="--",
            label=f"predicted ({purchase_model(model).label})",
            color=color,
        )
    axes.set_title(
        f"Repeat purchases after {outcome.calibration_end} (calibration end), "
        f"{outcome.holdout_days} days",
        fontsize=10,
    )
    axes.set_ylabel("cumulative repeat purchases")
    axes.legend(loc="upper left", frameon=False)
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def backtest_markdown(outcome: BacktestOutcome) -> str:
    """The chart as a Markdown image (MetadataValue.md)."""
    encoded = base64.b64encode(backtest_png(outcome)).decode("ascii")
    return f"![predicted vs actual cumulative repeat purchases](data:image/png;base64,{encoded})"


def _dates(start: dt.date, days) -> list[dt.date]:
    return [start + dt.timedelta(days=int(d)) for d in days]
