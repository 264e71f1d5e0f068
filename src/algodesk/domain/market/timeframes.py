"""Bar timeframes: ``1m`` … ``1h`` … ``1d``, ``1w``.

A bar covers the half-open interval ``[start, end)`` of its bucket and is stamped at ``end``
(its close), so a bar is only known once its interval is over: nothing looks ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

__all__ = ["Timeframe"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d{1,4})\s*([smhdwSMHDW])\s*$")


@dataclass(frozen=True, slots=True, order=True)
class Timeframe:
    """A bar length in seconds; parse ``1m``, ``15m``, ``1h``, ``1d``, ``1w`` (any case)."""

    seconds: int

    ORDER: ClassVar[tuple[str, ...]] = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"Timeframe: expected a positive length, was {self.seconds}s")

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(f"expected a timeframe such as 1m, 5m, 1h, 1d or 1w, was {text!r}")
        count, unit = int(match.group(1)), match.group(2).lower()
        if unit == "m" and match.group(2) == "M":
            raise ValueError(f"{text!r}: months are not a fixed length; use 1w or 1d")
        return cls(count * _UNITS[unit])

    @property
    def delta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    @property
    def is_intraday(self) -> bool:
        return self.seconds < 86400

    def divides(self, other: Timeframe) -> bool:
        """Whether bars of this timeframe can be resampled exactly into ``other``."""
        return other.seconds % self.seconds == 0 and other.seconds >= self.seconds

    def __str__(self) -> str:
        for unit in ("w", "d", "h", "m"):
            size = _UNITS[unit]
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"
