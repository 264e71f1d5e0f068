"""Each instrument's price at the start of a UTC day: what today's P&L and the daily-loss breaker
measure from."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.risk.base import Mark

__all__ = ["DayReferences"]


class DayReferences:
    """The day's reference price of each instrument: the last mark before 00:00 UTC, or the
    day's first mark when none came before (the desk started during the day). Not thread-safe:
    a holder shared by threads locks around it (``MarketService``)."""

    def __init__(self) -> None:
        self._refs: dict[InstrumentId, tuple[date, Decimal]] = {}

    def note(self, instrument_id: InstrumentId, held: Mark | None, mark: Mark) -> None:
        """``mark`` replaced ``held`` (None: the instrument's first) as the latest mark."""
        day = mark.ts.astimezone(UTC).date()
        ref = self._refs.get(instrument_id)
        if ref is None or ref[0] != day:
            crossed = held is not None and held.ts.astimezone(UTC).date() < day
            self._refs[instrument_id] = (day, held.price if crossed and held else mark.price)

    def on(self, day: date) -> dict[InstrumentId, Decimal]:
        """The reference prices of ``day`` (instruments marked that day)."""
        return {i: price for i, (d, price) in self._refs.items() if d == day}
