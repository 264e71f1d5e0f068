"""The live clock: the system's UTC time."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["LiveClock"]


class LiveClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
