"""A backtest as one self-contained HTML page: run, statistics, charts, trades.

plotly.js is inlined once, in the head; each chart is a ``<div>`` with a short script that
draws it, so the page opens offline and fetches nothing. Charts: the equity curve, the drawdown
in percent, and for each instrument in ``result.prices`` its price (candles, or a line of closes
when there are more than ``_MAX_CANDLES`` bars) with trade entries (triangles up) and exits
(triangles down). Times are shown in UTC. Every text from the run is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from algodesk.backtest.results import BacktestResult, Trade
from algodesk.backtest.stats import drawdowns

__all__ = ["render_report", "write_report"]

PriceBar = tuple[datetime, float, float, float, float]

_MAX_CANDLES = 5000
_PERCENT = frozenset({"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"})
_LONG, _SHORT = "#1a9850", "#d73027"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; }
.meta { color: #555; margin-top: 0; }
.tables { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { max-height: 32rem; overflow: auto; }
"""


def write_report(result: BacktestResult, path: Path) -> Path:
    """Write the report of ``result`` to ``path`` (parents created) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result), encoding="utf-8")
    return path


def render_report(result: BacktestResult) -> str:
    """The whole HTML page of ``result``."""
    figures = [_equity_figure(result), _drawdown_figure(result)]
    everything = [*result.trades, *result.open_trades]
    for instrument, bars in result.prices.items():
        mine = [t for t in everything if t.instrument == instrument]
        figures.append(_price_figure(instrument, bars, mine))
    charts = "\n".join(_chart_html(fig, f"chart-{i}") for i, fig in enumerate(figures))
    name = html.escape(result.strategy)
    bundle = get_plotlyjs().replace("</script", "<\\/script")
    period = ""
    if result.equity:
        period = f"{_utc(result.equity[0].time)} → {_utc(result.equity[-1].time)} UTC · "
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} — backtest report</title>
<style>{_STYLE}</style>
<script>{bundle}</script>
</head>
<body>
<h1>{name}</h1>
<p class="meta">{html.escape(period)}{len(result.equity)} bars · {len(result.trades)} closed
trades · {len(result.open_trades)} open · {len(result.orders)} orders · ledger verified:
{"yes" if result.ledger_verified else "no"}</p>
<div class="tables">
<section><h2>Parameters</h2>{_table(result.params)}</section>
<section><h2>Configuration</h2>{_table(result.config)}</section>
<section><h2>Statistics</h2>{_table(result.stats, stats=True)}</section>
</div>
<h2>Charts</h2>
{charts}
<h2>Trades</h2>
{_trades_table(everything)}
</body>
</html>
"""


def _chart_html(fig: Any, div_id: str) -> str:
    text = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
    return str(text)


def _layout(fig: Any, title: str, y_title: str) -> Any:
    fig.update_layout(
        title=title,
        height=400,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        xaxis_title="time (UTC)",
        yaxis_title=y_title,
        xaxis_rangeslider_visible=False,
    )
    return fig


def _equity_figure(result: BacktestResult) -> Any:
    times = [_utc(p.time) for p in result.equity]
    fig = go.Figure(go.Scatter(x=times, y=[float(p.equity) for p in result.equity], name="equity"))
    fig.add_hline(y=float(result.initial_cash), line_dash="dot", line_color="#888")
    return _layout(fig, "Equity", "equity")


def _drawdown_figure(result: BacktestResult) -> Any:
    values = np.array([float(p.equity) for p in result.equity], dtype=np.float64)
    percent = -100.0 * drawdowns(values, float(result.initial_cash))
    trace = go.Scatter(
        x=[_utc(p.time) for p in result.equity],
        y=percent.tolist(),
        name="drawdown",
        fill="tozeroy",
        line_color=_SHORT,
    )
    return _layout(go.Figure(trace), "Drawdown", "drawdown (%)")


def _price_figure(instrument: str, bars: Sequence[PriceBar], trades: Sequence[Trade]) -> Any:
    times = [_utc(b[0]) for b in bars]
    if len(bars) > _MAX_CANDLES:
        price = go.Scattergl(x=times, y=[b[4] for b in bars], name="close", line_color="#555")
    else:
        opens, highs, lows, closes = ([b[k] for b in bars] for k in (1, 2, 3, 4))
        price = go.Candlestick(
            x=times, open=opens, high=highs, low=lows, close=closes, name="price"
        )
    fig = go.Figure(price)
    for side in ("LONG", "SHORT"):
        color = _LONG if side == "LONG" else _SHORT
        mine = [t for t in trades if t.side.upper() == side]
        entries = [
            (t.entry_time, t.entry_price, f"{side} {t.quantity} @ {t.entry_price}") for t in mine
        ]
        exits = [
            (t.exit_time, t.exit_price, f"{side} exit, pnl {t.pnl}")
            for t in mine
            if t.exit_time is not None and t.exit_price is not None
        ]
        if entries:
            fig.add_trace(_markers(f"{side.lower()} entry", entries, "triangle-up", color))
        if exits:
            fig.add_trace(_markers(f"{side.lower()} exit", exits, "triangle-down", color))
    return _layout(fig, instrument, "price")


def _markers(
    name: str, points: list[tuple[datetime, Decimal, str]], symbol: str, color: str
) -> Any:
    return go.Scatter(
        x=[_utc(t) for t, _, _ in points],
        y=[float(p) for _, p, _ in points],
        mode="markers",
        name=name,
        hovertext=[note for _, _, note in points],
        marker={"symbol": symbol, "size": 11, "color": color, "line": {"width": 1}},
    )


def _table(values: Mapping[str, Any], *, stats: bool = False) -> str:
    if not values:
        return "<p>none</p>"
    cell = '<td class="num">' if stats else "<td>"
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th>{cell}"
        f"{html.escape(_stat(k, v) if stats else _text(v))}</td></tr>"
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _trades_table(trades: Sequence[Trade]) -> str:
    if not trades:
        return "<p>No trades.</p>"
    head = (
        "instrument", "side", "entry time", "entry price", "exit time", "exit price",
        "quantity", "pnl", "commission", "bars",
    )  # fmt: skip
    rows = []
    for t in sorted(trades, key=lambda t: t.entry_time):
        cells = (
            t.instrument,
            t.side,
            t.entry_time.isoformat(),
            _text(t.entry_price),
            t.exit_time.isoformat() if t.exit_time else "open",
            "" if t.exit_price is None else _text(t.exit_price),
            _text(t.quantity),
            _text(t.pnl),
            _text(t.commission),
            str(t.bars),
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<div class="scroll"><table><tr>{header}</tr>{"".join(rows)}</table></div>'


def _stat(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key in _PERCENT:
            return f"{value * 100:,.2f}%"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return _text(value)


def _text(value: Any) -> str:
    """Plain text of a value: money without float noise, times in ISO 8601, nested as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -8:  # a mean, say: 8 places are plenty
            return f"{value:.8f}".rstrip("0").rstrip(".")
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _utc(moment: datetime) -> datetime:
    """Naive UTC, which plotly.js draws as is (it ignores offsets)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
