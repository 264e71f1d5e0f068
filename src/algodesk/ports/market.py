"""What the engine needs to know about the market: instruments, marks and sessions.

``algodesk.services.market.MarketService`` provides it from validated feeds, the instrument
master and exchange calendars; ``algodesk.testing.market.FakeMarket`` says what a test tells it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.risk.base import Mark

__all__ = ["MarketView"]


class MarketView(Protocol):
    def instrument(self, instrument_id: InstrumentId) -> Instrument | None: ...

    def mark(self, instrument_id: InstrumentId) -> Mark | None: ...

    def is_open(self, venue: Venue, now: datetime) -> bool: ...

    def feed_stale(self, instrument_id: InstrumentId) -> bool:
        """Whether the instrument's feed has been silent too long during market hours."""
        ...
