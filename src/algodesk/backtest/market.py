"""The market a backtest's engine sees: the run's instruments, marks from the bars, a simulated
clock, venues always open (a bar is the proof of a session) and feeds never stale."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.risk.base import Mark

__all__ = ["BacktestMarket", "SimulatedClock"]


class SimulatedClock:
    """The backtest's time, set by the runner bar by bar. It never goes back: a time before
    the current one (a daily bar's start after hourly bars of the same day) leaves it where
    it is."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = max(self._now, when)


class BacktestMarket:
    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self.instruments = {i.id: i for i in instruments}
        self._marks: dict[InstrumentId, Mark] = {}

    def instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        return self.instruments.get(instrument_id)

    def mark(self, instrument_id: InstrumentId) -> Mark | None:
        return self._marks.get(instrument_id)

    def set_mark(self, instrument_id: InstrumentId, price: Decimal, ts: datetime) -> None:
        self._marks[instrument_id] = Mark(price, ts)

    def is_open(self, venue: Venue, now: datetime) -> bool:
        return True

    def feed_stale(self, instrument_id: InstrumentId) -> bool:
        return False
