"""The price path through a bar: open → first extreme → second extreme → close.

Which extreme comes first is not in the bar; :class:`BarPathMode` chooses. ``ADAPTIVE`` takes the
extreme nearer the open first (the high first when ``|high − open| < |low − open|``, otherwise the
low: a tie goes low first).

The open is a point of its own only when it differs from the previous close (a gap); when the bar
opens where the previous one closed, the path continues from that close without repeating it.
Consecutive equal points are merged, so a flat bar is a single point.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from algodesk.domain.matching.observations import Bar

__all__ = ["BarPathMode", "bar_path"]


class BarPathMode(StrEnum):
    """How the two extremes of a bar are ordered."""

    ADAPTIVE = "ADAPTIVE"
    HIGH_FIRST = "HIGH_FIRST"
    LOW_FIRST = "LOW_FIRST"


def _high_first(bar: Bar, mode: BarPathMode) -> bool:
    if mode is BarPathMode.HIGH_FIRST:
        return True
    if mode is BarPathMode.LOW_FIRST:
        return False
    return abs(bar.high - bar.open) < abs(bar.low - bar.open)


def bar_path(
    bar: Bar, prev_close: Decimal | None = None, mode: BarPathMode = BarPathMode.ADAPTIVE
) -> list[Decimal]:
    """The points a bar's price is assumed to pass through, in order.

    Args:
        bar: the bar.
        prev_close: the previous bar's close; ``None`` (no previous bar) keeps the open.
        mode: how to order the high and the low.

    Returns:
        ``[open, first extreme, second extreme, close]`` without consecutive repeats, and without
        the open when it equals ``prev_close``.
    """
    first, second = (bar.high, bar.low) if _high_first(bar, mode) else (bar.low, bar.high)
    points: list[Decimal] = []
    for point in (bar.open, first, second, bar.close):
        if not points or points[-1] != point:
            points.append(point)
    if prev_close is not None and bar.open == prev_close and len(points) > 1:
        return points[1:]
    return points
