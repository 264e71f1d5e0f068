"""A market view that says what it is told: instruments, marks and whether venues are open."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.market.day_refs import DayReferences
from algodesk.domain.risk.base import Mark

__all__ = ["FakeMarket"]


class FakeMarket:
    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self.instruments = {i.id: i for i in instruments}
        self.marks: dict[InstrumentId, Mark] = {}
        self.closed: set[Venue] = set()
        self.stale: set[InstrumentId] = set()
        self._day_refs = DayReferences()

    def instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        return self.instruments.get(instrument_id)

    def mark(self, instrument_id: InstrumentId) -> Mark | None:
        return self.marks.get(instrument_id)

    def is_open(self, venue: Venue, now: datetime) -> bool:
        return venue not in self.closed

    def feed_stale(self, instrument_id: InstrumentId) -> bool:
        return instrument_id in self.stale

    def day_marks(self, day: date) -> dict[InstrumentId, Decimal]:
        """Each instrument's price at the start of ``day`` (UTC), as ``MarketService`` says."""
        return self._day_refs.on(day)

    def set_mark(
        self,
        instrument_id: InstrumentId,
        price: Decimal,
        ts: datetime,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
    ) -> None:
        mark = Mark(price, ts, bid, ask)
        self._day_refs.note(instrument_id, self.marks.get(instrument_id), mark)
        self.marks[instrument_id] = mark
