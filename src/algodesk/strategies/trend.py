"""The multi-timeframe trend filter of the built-in strategies.

``trend_up(data, "1w", 10)`` is True at bar ``t`` when the last higher-timeframe bar known
complete at ``t``'s close (the rule of :meth:`BarData.higher`: a week of daily bars is known at
the close of its last bar if that bar ends the week, else at the next week's first close) has
its close strictly above the simple average of the closes of the last ``length`` completed
higher bars, that bar included. It is False before ``length`` higher bars have completed.

* The average runs over the distinct higher bars, not over the forward-filled rows of
  :meth:`BarData.higher` (a week spans five daily rows, but counts once).
* Closes are compared exactly: ``length × close > Σ closes`` in ``Decimal``, from the input's
  own ``Decimal`` closes, so a close equal to its average is not above it.
* No look-ahead: the value at ``t`` only uses bars ``0..t``, so it is the same when computed on
  ``data.head(t + 1)``.
"""

from __future__ import annotations

from decimal import Decimal, Inexact, localcontext

import numpy as np
import numpy.typing as npt

from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar
from algodesk.strategies.base import BarData

__all__ = ["check_trend", "completed_ends", "trend_up"]


def check_trend(trend: str, trend_length: int) -> None:
    """Validate a strategy's ``trend`` / ``trend_length`` parameters (``""``: no filter).

    Raises:
        ValueError: ``trend`` is not a timeframe or ``trend_length`` is below 1.
    """
    if trend:
        try:
            Timeframe.parse(trend)
        except ValueError as exc:
            raise ValueError(f"trend: {exc}") from None
    if trend_length < 1:
        raise ValueError(f"trend_length: expected >= 1, was {trend_length}")


def completed_ends(data: BarData, timeframe: str) -> npt.NDArray[np.int64]:
    """Per bar, the position of the last input bar of the last higher bar known complete at
    that bar's close; -1 before the first.

    Distinct higher bars have distinct ends, even when their prices are equal. The ends are found
    by :meth:`BarData.higher` itself (so its completion rule is followed exactly): it aggregates a
    copy of the bars whose high is each bar's position, and a higher bar's high is then the
    position of its last bar.
    """
    marks = [
        Bar(
            data.instrument_id,
            b.ts_close,
            Decimal(0),
            Decimal(i),
            Decimal(0),
            Decimal(0),
            Decimal(0),
        )
        for i, b in enumerate(data.bars)
    ]
    highs = BarData(data.instrument_id, data.timeframe, marks).higher(timeframe)["high"]
    return np.where(np.isnan(highs), -1, highs).astype(np.int64)


def trend_up(data: BarData, timeframe: str, length: int) -> npt.NDArray[np.bool_]:
    """Per bar, whether the last completed ``timeframe`` bar closed above the simple average of
    the last ``length`` completed ``timeframe`` closes (see the module's documentation).

    Raises:
        ValueError: ``length`` below 1, or ``timeframe`` not above the data's timeframe.
    """
    if length < 1:
        raise ValueError(f"trend length: expected >= 1, was {length}")
    ends = completed_ends(data, timeframe)
    out = np.zeros(len(data), dtype=np.bool_)
    if len(data) == 0:
        return out
    previous = np.concatenate(([-1], ends[:-1]))
    new = (ends != previous) & (ends >= 0)  # rows where a higher bar completes
    exact = data.exact("close")
    closes = [exact[int(j)] for j in ends[new]]
    above = np.zeros(len(closes), dtype=np.bool_)
    with localcontext() as ctx:
        ctx.prec = 100  # sums of prices are exact at this precision; refuse otherwise
        ctx.traps[Inexact] = True
        running = [Decimal(0)]
        for close in closes:
            running.append(running[-1] + close)
        for k in range(length - 1, len(closes)):
            above[k] = closes[k] * length > running[k + 1] - running[k + 1 - length]
    # the higher bar shown at each row: the count of higher bars completed so far, minus one
    shown = np.cumsum(new) - 1
    known = shown >= 0
    out[known] = above[shown[known]]
    return out
