"""``sma_cross`` (and ``ema_cross``): a moving-average crossover, long only, defined exactly so
that its trades can be compared with other tools.

* fast and slow simple moving averages of Close;
* the sign of (fast − slow) is computed exactly, in integers scaled from the input's ``Decimal``
  closes (``fast − slow`` has the sign of ``slow_n × Σfast − fast_n × Σslow``), never in floats;
* a cross is a change of that sign; a bar where fast = slow keeps the previous sign;
* evaluated at each bar's close once both averages exist (the first such bar sets the sign and
  is never a cross);
* a cross up when flat buys (the run's sizing, e.g. ``--sizing all-in``); a cross down when
  long sells the whole position.

``kind=ema`` uses exponential averages (``alpha = 2 / (n + 1)``, seeded with the SMA of the
first ``n`` closes) computed in floats; only ``sma`` is exact. ``trend`` (e.g. ``1w``) adds the
multi-timeframe trend filter: entries only while the higher timeframe's close is above its
``trend_length``-bar average.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from algodesk.strategies.base import BarContext, BarData, Column, Strategy
from algodesk.strategies.trend import check_trend, trend_up

__all__ = ["SmaCross", "cross_signs", "exact_sma_sign"]


@dataclass(frozen=True, slots=True)
class SmaCrossParams:
    fast: int = 10
    slow: int = 20
    kind: str = "sma"
    trend: str = ""
    trend_length: int = 10

    def __post_init__(self) -> None:
        if self.fast < 1 or self.slow < 1:
            raise ValueError(f"fast and slow: expected lengths >= 1, were {self.fast}, {self.slow}")
        if self.fast >= self.slow:
            raise ValueError(f"expected fast < slow, were fast={self.fast}, slow={self.slow}")
        if self.kind not in ("sma", "ema"):
            raise ValueError(f"kind: expected sma or ema, was {self.kind!r}")
        check_trend(self.trend, self.trend_length)


def _scaled(values: Sequence[Decimal]) -> list[int]:
    """The values as integers at one common scale, exactly (no context rounding)."""
    parts = [v.as_tuple() for v in values]
    low = min((int(p.exponent) for p in parts), default=0)
    out: list[int] = []
    for p in parts:
        digits = int("".join(map(str, p.digits)) or "0") * 10 ** (int(p.exponent) - low)
        out.append(-digits if p.sign else digits)
    return out


def exact_sma_sign(closes: Sequence[Decimal], fast: int, slow: int) -> npt.NDArray[np.int8]:
    """Per bar, the sign of SMA(fast) − SMA(slow), exact; 0 where either is undefined or the
    two are equal."""
    n = len(closes)
    signs = np.zeros(n, dtype=np.int8)
    if n < slow:
        return signs
    ints = np.array([0, *_scaled(closes)], dtype=object)
    sums = np.cumsum(ints)  # Python ints: exact, never overflow
    idx = np.arange(slow, n + 1)
    fast_sum = sums[idx] - sums[idx - fast]
    slow_sum = sums[idx] - sums[idx - slow]
    diff = fast_sum * slow - slow_sum * fast
    signs[slow - 1 :] = np.array([(d > 0) - (d < 0) for d in diff], dtype=np.int8)
    return signs


def _ema(close: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    out = np.full(close.shape, np.nan)
    if len(close) < length:
        return out
    alpha = 2.0 / (length + 1)
    value = float(close[:length].mean())
    out[length - 1] = value
    for i in range(length, len(close)):
        value = alpha * close[i] + (1 - alpha) * value
        out[i] = value
    return out


def cross_signs(signs: npt.NDArray[np.int8], first: int) -> npt.NDArray[np.int8]:
    """+1 at a cross up, −1 at a cross down, 0 elsewhere, from per-bar signs (0 = equal, which
    keeps the previous sign) defined from bar ``first`` on."""
    held = signs.astype(np.int8).copy()
    for i in range(first + 1, len(held)):  # carry the previous sign over ties
        if held[i] == 0:
            held[i] = held[i - 1]
    out = np.zeros(len(held), dtype=np.int8)
    if len(held) > first + 1:
        prev, cur = held[first:-1], held[first + 1 :]
        change = (prev != 0) & (cur != 0) & (prev != cur)
        out[first + 1 :] = np.where(change, cur, 0)
    return out


class SmaCross(Strategy):
    name = "sma_cross"
    Params = SmaCrossParams
    signal_column = "cross"

    def indicators(self, data: BarData) -> Mapping[str, Column]:
        p: SmaCrossParams = self.params
        close = data.frame["close"]
        if p.kind == "sma":
            fast = close.rolling(p.fast).mean().to_numpy()
            slow = close.rolling(p.slow).mean().to_numpy()
            signs = exact_sma_sign(data.exact("close"), p.fast, p.slow)
        else:
            fast, slow = _ema(close.to_numpy(), p.fast), _ema(close.to_numpy(), p.slow)
            diff = fast - slow
            signs = np.where(np.isnan(diff), 0, np.sign(diff)).astype(np.int8)
        out: dict[str, Column] = {
            "fast": fast,
            "slow": slow,
            "cross": cross_signs(signs, p.slow - 1),
        }
        if p.trend:
            out["trend_up"] = trend_up(data, p.trend, p.trend_length)
        return out

    def on_bar(self, ctx: BarContext) -> None:
        cross: Any = ctx.value("cross")
        if cross > 0 and ctx.position == 0:
            if self.params.trend and not ctx.value("trend_up"):
                return
            ctx.buy(tag="cross up")
        elif cross < 0 and ctx.position > 0:
            ctx.sell(ctx.position, tag="cross down")
