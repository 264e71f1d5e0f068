"""Statistics of a backtest, from its equity curve and its closed trades.

``compute_stats`` returns a dict whose values are a ``datetime``, an ``int``, a ``float``, a
``Decimal`` (money) or ``None`` (undefined: never NaN or infinity). With ``e_0 … e_n`` the equity
points (oldest first), ``C`` the initial cash and ``r_i = e_i / e_(i-1) - 1`` the per-bar simple
returns (i = 1 … n):

``start``, ``end``
    times of the first and last equity point (None without points).
``bars``
    number of equity points.
``initial_cash``, ``final_equity``
    ``C`` and ``e_n`` (``C`` without points), Decimal.
``periods_per_year``
    the bars per year used to annualise (given, or inferred: see below).
``total_return``
    ``e_n / C - 1``.
``cagr``
    ``(e_n / C) ** (1 / years) - 1`` with ``years`` = (end - start) / 365.25 days; None when the
    points span less than a day or the result overflows a float; ``-1.0`` when ``e_n <= 0``.
``volatility``
    ``std(r, ddof=1) * sqrt(ppy)`` (0.0 without variance, as for ``sharpe``); None with fewer
    than two returns. This and the next two are None as well when an equity point before the
    last is ``<= 0`` (a return from it is undefined).
``sharpe``
    ``mean(r) / std(r, ddof=1) * sqrt(ppy)``, risk-free rate 0; None with fewer than two
    returns or without variance (``std(r) < 1e-12``: equal returns up to float rounding).
``sortino``
    ``mean(r) / dd * sqrt(ppy)`` with the downside deviation ``dd = sqrt(mean(min(r, 0) ** 2))``;
    None with fewer than two returns or when ``dd == 0`` (no losing bar).
``max_drawdown``
    ``max(1 - e_i / peak_i)`` with ``peak_i = max(C, e_0 … e_i)``: a positive fraction (0.0
    without a drawdown; above 1 only if equity went negative).
``max_drawdown_duration_bars``
    the longest stretch from a peak to the first point back at or above it (or to the last
    point, if equity never recovers), in bars. A drawdown from ``C`` itself (the first point is
    already below the initial cash) starts one bar before the first point.
``max_drawdown_duration_days``
    the same stretches in calendar days (each maximum taken on its own); a drawdown from ``C``
    is timed from the first point, the earliest time known.
``calmar``
    ``cagr / max_drawdown``; None when either is None or the drawdown is 0.
``trade_count``
    number of closed trades (trades in ``trades`` with an ``exit_time``).
``win_rate``
    closed trades with ``pnl > 0`` / closed trades; None without closed trades.
``profit_factor``
    sum of positive ``pnl`` / -(sum of negative ``pnl``); None without a losing trade.
``expectancy``
    mean ``pnl`` per closed trade, Decimal; None without closed trades.
``avg_win``, ``avg_loss``
    mean ``pnl`` of the winners (``pnl > 0``) and of the losers (``pnl < 0``, so negative),
    Decimal; None without any. A trade with ``pnl == 0`` is neither.
``exposure``
    fraction of equity points whose ``exposure != 0``; None without points.
``total_commission``
    sum of ``commission`` over every trade passed, Decimal. The runner passes the closed
    trades, and may add the open ones (``trades + open_trades``) so that the entry fees of a
    position still open are counted here; the trade statistics above ignore open trades.

Bars per year, when not given, come from the median spacing ``s`` of the equity times:

- ``s < 1 day``: ``365 * 86400 / s`` — a 24/7 market (crypto); bars of a market that closes
  overnight should pass ``periods_per_year`` (e.g. 252 * 75 for NSE 5-minute bars);
- ``1 day <= s < 2 days``: 252 (trading days: the weekends make the median spacing one day);
- ``s >= 2 days``: ``365.25 days / s``, rounded to a whole number when at least 1 (weekly: 52,
  monthly: 12, quarterly: 4);
- fewer than two points: 252 (nothing is annualised then anyway).

Ratios use numpy on floats; money stays ``Decimal``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from algodesk.backtest.results import EquityPoint, Trade

__all__ = ["compute_stats", "drawdowns", "infer_periods_per_year"]

FloatArray = npt.NDArray[np.float64]

_DAY = 86400.0
_YEAR_DAYS = 365.25
_TRADING_DAYS = 252
_NOISE = 1e-12  # a per-bar standard deviation below this is float noise: no variance


def compute_stats(
    equity: Sequence[EquityPoint],
    trades: Sequence[Trade],
    initial_cash: Decimal,
    periods_per_year: float | None = None,
) -> dict[str, Any]:
    """Every statistic of the module docstring, by name."""
    if not initial_cash > 0:
        raise ValueError(f"initial_cash must be positive, got {initial_cash}")
    _check_times(equity)
    if periods_per_year is None:
        ppy = infer_periods_per_year([p.time for p in equity])
    elif math.isfinite(periods_per_year) and periods_per_year > 0:
        ppy = float(periods_per_year)
    else:
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year}")
    final = equity[-1].equity if equity else initial_cash
    values = np.array([float(p.equity) for p in equity], dtype=np.float64)
    stats: dict[str, Any] = {
        "start": equity[0].time if equity else None,
        "end": equity[-1].time if equity else None,
        "bars": len(equity),
        "initial_cash": initial_cash,
        "final_equity": final,
        "periods_per_year": ppy,
        "total_return": float(final / initial_cash - 1),
        "cagr": _cagr(equity, final / initial_cash),
    }
    stats.update(_return_stats(values, ppy))
    stats.update(_drawdown_stats(equity, values, float(initial_cash)))
    dd = stats["max_drawdown"]
    stats["calmar"] = stats["cagr"] / dd if stats["cagr"] is not None and dd > 0 else None
    stats.update(_trade_stats(trades))
    stats["exposure"] = sum(p.exposure != 0 for p in equity) / len(equity) if equity else None
    return {k: _finite(v) for k, v in stats.items()}


def infer_periods_per_year(times: Sequence[datetime]) -> float:
    """Bars per year from the median spacing of ``times`` (the rule in the module docstring)."""
    if len(times) < 2:
        return float(_TRADING_DAYS)
    spacing = float(np.median([(b - a).total_seconds() for a, b in pairwise(times)]))
    if not spacing > 0:
        raise ValueError(f"times must increase: the median spacing is {spacing} s")
    if spacing < _DAY:
        return 365 * _DAY / spacing
    if spacing < 2 * _DAY:
        return float(_TRADING_DAYS)
    per_year = _YEAR_DAYS * _DAY / spacing
    return float(round(per_year)) if per_year >= 1 else per_year


def drawdowns(values: FloatArray, initial_cash: float) -> FloatArray:
    """``1 - e_i / peak_i`` at each point, with the peak seeded by the initial cash."""
    if values.size == 0:
        return np.zeros(0, dtype=np.float64)
    peaks = np.maximum.accumulate(np.maximum(values, initial_cash))
    return np.asarray(1.0 - values / peaks, dtype=np.float64)


def _check_times(equity: Sequence[EquityPoint]) -> None:
    for i in range(1, len(equity)):
        if not equity[i].time > equity[i - 1].time:
            raise ValueError(
                f"equity times must increase: point {i} at {equity[i].time.isoformat()} is not "
                f"after point {i - 1} at {equity[i - 1].time.isoformat()}"
            )


def _cagr(equity: Sequence[EquityPoint], growth: Decimal) -> float | None:
    if len(equity) < 2:
        return None
    span = equity[-1].time - equity[0].time
    if span < timedelta(days=1):
        return None
    if growth <= 0:
        return -1.0
    years = span.total_seconds() / (_YEAR_DAYS * _DAY)
    try:
        return float(math.exp(math.log(float(growth)) / years) - 1.0)
    except OverflowError:
        return None


def _return_stats(values: FloatArray, ppy: float) -> dict[str, float | None]:
    undefined: dict[str, float | None] = {"volatility": None, "sharpe": None, "sortino": None}
    if values.size < 3 or bool(np.any(values[:-1] <= 0)):
        return undefined  # fewer than two returns, or a return from a zero/negative base
    returns = values[1:] / values[:-1] - 1.0
    scale = math.sqrt(ppy)
    mean = float(np.mean(returns))
    std = float(np.std(returns, ddof=1))
    flat = std < _NOISE  # equal returns (steady growth) differ by float rounding only
    std = 0.0 if flat else std
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    return {
        "volatility": std * scale,
        "sharpe": None if flat else mean / std * scale,
        "sortino": mean / downside * scale if downside > 0 else None,
    }


def _drawdown_stats(
    equity: Sequence[EquityPoint], values: FloatArray, initial_cash: float
) -> dict[str, Any]:
    dd = drawdowns(values, initial_cash)
    longest_bars, longest_days = 0, 0.0
    start: int | None = None  # index of the peak of the current stretch (-1: the initial cash)
    for i in range(len(equity) + 1):
        under = i < len(equity) and dd[i] > 0
        if under and start is None:
            start = i - 1
        elif start is not None and not under:
            end = min(i, len(equity) - 1)
            longest_bars = max(longest_bars, end - start)
            elapsed = equity[end].time - equity[max(start, 0)].time
            longest_days = max(longest_days, elapsed.total_seconds() / _DAY)
            start = None
    return {
        "max_drawdown": float(dd.max()) if dd.size else 0.0,
        "max_drawdown_duration_bars": longest_bars,
        "max_drawdown_duration_days": longest_days,
    }


def _trade_stats(trades: Sequence[Trade]) -> dict[str, Any]:
    closed = [t.pnl for t in trades if not t.is_open]
    wins = [p for p in closed if p > 0]
    losses = [p for p in closed if p < 0]
    gross_loss = -sum(losses, Decimal(0))
    return {
        "trade_count": len(closed),
        "win_rate": len(wins) / len(closed) if closed else None,
        "profit_factor": float(sum(wins, Decimal(0)) / gross_loss) if gross_loss else None,
        "expectancy": _mean(closed),
        "avg_win": _mean(wins),
        "avg_loss": _mean(losses),
        "total_commission": sum((t.commission for t in trades), Decimal(0)),
    }


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, Decimal(0)) / len(values) if values else None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return value
