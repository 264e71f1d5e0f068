"""The look-ahead check: an indicator whose value at a past bar changes when later bars are
added used the future.

The strategy's indicators (and its ``active`` mask) are computed on the whole series and again
on the series cut after several bars; every value before each cut must be the same (floats
within a relative 1e-9, anything else equal). Each indicator that differs is named, with the
first bar where it does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from algodesk.strategies.base import BarData, Column, Strategy

__all__ = ["LookaheadFinding", "check_lookahead", "cut_points"]


@dataclass(frozen=True, slots=True)
class LookaheadFinding:
    """``indicator`` at bar ``index`` (``time``) was ``full`` on all the data and ``cut``
    when the data ended after bar ``cut_at``."""

    indicator: str
    index: int
    time: datetime
    full: Any
    cut: Any
    cut_at: int

    def message(self) -> str:
        return (
            f"{self.indicator}: at bar {self.index} ({self.time.isoformat()}) it is {self.full!r} "
            f"on all the data but {self.cut!r} on the data up to bar {self.cut_at}: "
            "it uses later bars"
        )


def cut_points(n: int, count: int = 8) -> list[int]:
    """Where to cut a series of ``n`` bars: spread over it, the last bar included."""
    if n <= 1:
        return []
    points = {round(n * k / (count + 1)) for k in range(1, count + 1)} | {n - 1}
    return sorted(p for p in points if 1 <= p < n)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | np.floating) and isinstance(b, float | np.floating):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _columns(strategy: Strategy, data: BarData) -> dict[str, Sequence[Any]]:
    columns: dict[str, Column] = dict(strategy.indicators(data))
    mask = strategy.active(data, columns)
    out: dict[str, Sequence[Any]] = {
        name: list(np.asarray(col).tolist()) for name, col in columns.items()
    }
    if mask is not None:
        out["<active>"] = list(np.asarray(mask, dtype=bool).tolist())
    return out


def check_lookahead(
    strategy: Strategy,
    data: BarData,
    *,
    cuts: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LookaheadFinding]:
    """The indicators of ``strategy`` that change their past on ``data`` (first finding per
    indicator), or an empty list."""
    full = _columns(strategy, data)
    points = list(cuts) if cuts is not None else cut_points(len(data))
    found: dict[str, LookaheadFinding] = {}
    for done, cut in enumerate(points, 1):
        part: Mapping[str, Sequence[Any]] = _columns(strategy, data.head(cut))
        for name, values in full.items():
            if name in found:
                continue
            mine = part.get(name)
            if mine is None or len(mine) != cut:
                found[name] = LookaheadFinding(
                    name, 0, data.bars[0].ts_close, "present", "missing", cut
                )
                continue
            for i in range(cut):
                if not _same(values[i], mine[i]):
                    found[name] = LookaheadFinding(
                        name, i, data.bars[i].ts_close, values[i], mine[i], cut
                    )
                    break
        if progress is not None:
            progress(done, len(points))
    return sorted(found.values(), key=lambda f: f.indicator)
