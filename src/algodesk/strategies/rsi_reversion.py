"""``rsi_reversion``: buy an oversold dip, sell on the rebound; long only.

RSI (Wilder's, in floats, of Close over ``length`` bars):

* change ``d_t = close_t − close_{t−1}``; gain ``max(d_t, 0)``, loss ``max(−d_t, 0)``;
* the first averages, at bar ``length``, are the simple means of the gains and losses of the
  first ``length`` changes (bars ``1..length``); after that Wilder's smoothing:
  ``avg_t = (avg_{t−1} × (length − 1) + x_t) / length``;
* ``RSI = 100 − 100 / (1 + avg_gain / avg_loss)``, and 100 when ``avg_loss`` is 0 (also when
  both are 0, a flat series); undefined (NaN) before bar ``length``.

Rules, decided at each bar's close:

* entry, when flat: RSI *crosses* below ``oversold`` (``RSI_{t−1} >= oversold > RSI_t``, both
  defined); a bar that merely stays below it is not an entry, so a stopped-out position is not
  bought again until RSI has come back above ``oversold`` and crossed down anew. With ``trend``
  (e.g. ``1w``), only while :func:`~algodesk.strategies.trend.trend_up` holds at that bar;
* exit, when long: at any close where ``RSI > exit_level`` or ``RSI > overbought`` (a level, not
  a cross: the first such close after the entry); the whole position is sold. With
  ``exit_level >= overbought`` the exit is at overbought;
* ``stop_loss_pct`` / ``take_profit_pct`` (0: none) add bracket exits to the entry at the entry
  bar's close × (1 − pct/100) / × (1 + pct/100), quantized to that close's decimal places: the
  stop rounded down and the target up, never tighter than asked. A stop that rounds to 0 (under
  one unit of the close's last decimal place) is left out.

Indicators: ``rsi``; ``signal`` (+1 entry condition, −1 exit condition, else 0; the two cannot
hold together since ``oversold < exit_level`` and ``oversold < overbought``); ``trend_up`` with
``trend``. :meth:`RsiReversion.active` is where ``signal`` is not 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from algodesk.strategies.base import BarContext, BarData, Column, Strategy
from algodesk.strategies.trend import check_trend, trend_up

__all__ = ["RsiReversion", "RsiReversionParams", "bracket_prices", "wilder_rsi"]


@dataclass(frozen=True, slots=True)
class RsiReversionParams:
    length: int = 14
    oversold: float = 30
    overbought: float = 70
    exit_level: float = 50
    stop_loss_pct: float = 0
    take_profit_pct: float = 0
    trend: str = ""
    trend_length: int = 10

    def __post_init__(self) -> None:
        for name in ("oversold", "overbought", "exit_level", "stop_loss_pct", "take_profit_pct"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name}: expected a finite number, was {value}")
        if self.length < 1:
            raise ValueError(f"length: expected >= 1, was {self.length}")
        if not 0 < self.oversold < self.overbought < 100:
            raise ValueError(
                "oversold, overbought: expected 0 < oversold < overbought < 100, were "
                f"oversold={self.oversold}, overbought={self.overbought}"
            )
        if not self.oversold < self.exit_level <= 100:
            raise ValueError(
                f"exit_level: expected above oversold ({self.oversold}) and <= 100, "
                f"was {self.exit_level}"
            )
        if not 0 <= self.stop_loss_pct < 100:
            raise ValueError(
                f"stop_loss_pct: expected 0 (none) or a percent below 100, was {self.stop_loss_pct}"
            )
        if self.take_profit_pct < 0:
            raise ValueError(
                f"take_profit_pct: expected 0 (none) or a positive percent, "
                f"was {self.take_profit_pct}"
            )
        check_trend(self.trend, self.trend_length)


def _wilder_average(x: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """Wilder's average of ``x[1:]`` (``x[0]`` is unused): NaN before index ``length``."""
    out = np.full(len(x), np.nan)
    if len(x) <= length:
        return out
    seeded = np.concatenate(([x[1 : length + 1].mean()], x[length + 1 :]))
    # an exponential average with alpha = 1/length seeded with the first value is Wilder's
    out[length:] = pd.Series(seeded).ewm(alpha=1.0 / length, adjust=False).mean().to_numpy()
    return out


def wilder_rsi(close: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """Wilder's RSI of ``close`` (see the module's documentation)."""
    change = np.diff(close, prepend=np.nan)
    gain = _wilder_average(np.where(change > 0, change, 0.0), length)
    loss = _wilder_average(np.where(change < 0, -change, 0.0), length)
    total = gain + loss
    ratio = 100.0 * gain / np.where(total > 0, total, 1.0)  # = 100 − 100 / (1 + gain / loss)
    return np.where(loss == 0, 100.0, ratio)


def bracket_prices(
    close: Decimal, stop_loss_pct: float, take_profit_pct: float
) -> tuple[Decimal | None, Decimal | None]:
    """The stop-loss and take-profit prices for an entry at ``close`` (None when 0 / none)."""
    quantum = Decimal(1).scaleb(int(close.as_tuple().exponent))
    stop = target = None
    if stop_loss_pct:
        stop = (close * (1 - Decimal(str(stop_loss_pct)) / 100)).quantize(quantum, ROUND_FLOOR)
        if stop <= 0:
            stop = None
    if take_profit_pct:
        raw = close * (1 + Decimal(str(take_profit_pct)) / 100)
        target = raw.quantize(quantum, ROUND_CEILING)
    return stop, target


class RsiReversion(Strategy):
    name = "rsi_reversion"
    Params = RsiReversionParams
    signal_column = "signal"

    def indicators(self, data: BarData) -> Mapping[str, Column]:
        p: RsiReversionParams = self.params
        rsi = wilder_rsi(data.frame["close"].to_numpy(), p.length)
        before = np.concatenate(([np.nan], rsi[:-1]))
        entry = (before >= p.oversold) & (rsi < p.oversold)
        leave = (rsi > p.exit_level) | (rsi > p.overbought)
        out: dict[str, Column] = {
            "rsi": rsi,
            "signal": np.where(entry, 1, np.where(leave, -1, 0)).astype(np.int8),
        }
        if p.trend:
            out["trend_up"] = trend_up(data, p.trend, p.trend_length)
        return out

    def on_bar(self, ctx: BarContext) -> None:
        p: RsiReversionParams = self.params
        signal: Any = ctx.value("signal")
        if signal > 0 and ctx.position == 0:
            if p.trend and not ctx.value("trend_up"):
                return
            stop, target = bracket_prices(ctx.bar.close, p.stop_loss_pct, p.take_profit_pct)
            ctx.buy(stop_loss=stop, take_profit=target, tag="rsi oversold")
        elif signal < 0 and ctx.position > 0:
            ctx.sell(ctx.position, tag="rsi exit")
