"""``breakout``: a Donchian channel breakout with swing-high resistance and swing-low support;
long only.

Indicators (floats; NaN where undefined), at bar ``t`` from bars ``0..t`` only:

* ``upper``: the highest high of the ``channel`` bars before ``t`` (``t`` itself excluded);
  ``lower``: their lowest low (shown, not traded); ``exit_lower``: the lowest low of the
  ``exit_channel`` bars before ``t``;
* a *swing high* at bar ``i`` is a high strictly above the high of each of the ``swing`` bars on
  either side (so it needs ``swing`` bars before it); it is *confirmed* at bar ``i + swing``,
  when the bars after it are known. ``resistance``: the high of the latest swing high confirmed
  by ``t``. Swing lows (a low strictly below its ``2 × swing`` neighbours) and ``support``
  likewise;
* ``signal``: +1 where the entry condition holds, −1 where the exit condition holds, else 0
  (they exclude each other: ``exit_lower <= low_{t−1} <= high_{t−1} <= upper``);
* ``trend_up`` with ``trend`` (see :mod:`algodesk.strategies.trend`).

Rules, decided at each bar's close:

* entry, when flat: ``close > upper`` and, with ``use_swings``, ``close > resistance`` (no
  confirmed swing high yet: nothing to clear); with ``trend``, only while ``trend_up`` holds.
  With ``use_swings`` the buy carries a bracket stop-loss at ``support`` when one is confirmed
  and below the close (as a ``Decimal``: the float of a price read from text of at most 15
  significant digits converts back to that exact price);
* exit, when long: ``close < exit_lower`` sells the whole position.

``use_swings=false`` is the plain Donchian breakout: no resistance filter and no stop-loss.
:meth:`Breakout.active` is where ``signal`` is not 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from algodesk.strategies.base import BarContext, BarData, Column, Strategy
from algodesk.strategies.trend import check_trend, trend_up

__all__ = ["Breakout", "BreakoutParams", "confirmed_swings"]


@dataclass(frozen=True, slots=True)
class BreakoutParams:
    channel: int = 20
    exit_channel: int = 10
    swing: int = 3
    use_swings: bool = True
    trend: str = ""
    trend_length: int = 10

    def __post_init__(self) -> None:
        for name in ("channel", "exit_channel", "swing"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name}: expected a number of bars >= 1, was {value}")
        check_trend(self.trend, self.trend_length)


def confirmed_swings(values: pd.Series, swing: int, *, high: bool) -> npt.NDArray[np.float64]:
    """Per bar ``t``, the value of the latest swing high (``high``) or low confirmed by ``t``:
    the extreme at bar ``i`` confirmed at ``i + swing`` (NaN before the first)."""
    sign = 1.0 if high else -1.0
    x = values * sign  # a swing low is a swing high of the negated lows
    candidate = x.shift(swing)  # bar t − swing, whose right side ends at t
    right = x.rolling(swing).max()  # bars t − swing + 1 .. t
    left = x.rolling(swing).max().shift(swing + 1)  # bars t − 2·swing .. t − swing − 1
    confirmed = (candidate > right) & (candidate > left)
    out: npt.NDArray[np.float64] = (candidate.where(confirmed).ffill() * sign).to_numpy()
    return out


class Breakout(Strategy):
    name = "breakout"
    Params = BreakoutParams
    signal_column = "signal"

    def indicators(self, data: BarData) -> Mapping[str, Column]:
        p: BreakoutParams = self.params
        frame = data.frame
        upper = frame["high"].rolling(p.channel).max().shift(1).to_numpy()
        lower = frame["low"].rolling(p.channel).min().shift(1).to_numpy()
        exit_lower = frame["low"].rolling(p.exit_channel).min().shift(1).to_numpy()
        resistance = confirmed_swings(frame["high"], p.swing, high=True)
        support = confirmed_swings(frame["low"], p.swing, high=False)
        close = frame["close"].to_numpy()
        entry = close > upper
        if p.use_swings:
            entry &= np.isnan(resistance) | (close > resistance)
        out: dict[str, Column] = {
            "upper": upper,
            "lower": lower,
            "exit_lower": exit_lower,
            "resistance": resistance,
            "support": support,
            "signal": np.where(entry, 1, np.where(close < exit_lower, -1, 0)).astype(np.int8),
        }
        if p.trend:
            out["trend_up"] = trend_up(data, p.trend, p.trend_length)
        return out

    def on_bar(self, ctx: BarContext) -> None:
        p: BreakoutParams = self.params
        signal: Any = ctx.value("signal")
        if signal > 0 and ctx.position == 0:
            if p.trend and not ctx.value("trend_up"):
                return
            stop = None
            if p.use_swings:
                support = float(ctx.value("support"))
                if not np.isnan(support) and Decimal(str(support)) < ctx.bar.close:
                    stop = Decimal(str(support))
            ctx.buy(stop_loss=stop, tag="breakout")
        elif signal < 0 and ctx.position > 0:
            ctx.sell(ctx.position, tag="channel exit")
