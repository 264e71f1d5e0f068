"""The market-data port: subscribe to instruments, receive quotes, trades and bars, ask for the
latest mark and for bar history.

Feeds are asyncio sources. They deliver each event to a *sink*, a plain callable run on the
feed's event loop; a sink must be quick (it hands the event on, it does not block).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar, Quote, TradeTick

__all__ = ["BarSeries", "BarStore", "Feed", "FeedState", "MarketData", "MarketEvent", "Sink"]

MarketEvent = Quote | TradeTick | Bar
Sink = Callable[[MarketEvent], None]


class FeedState(StrEnum):
    """Where a feed's data comes from right now."""

    STARTING = "STARTING"
    STREAMING = "STREAMING"  # the primary source (a socket, a replay) is delivering
    POLLING = "POLLING"  # the primary is down; the polling fallback is delivering
    DOWN = "DOWN"  # nothing is delivering
    STOPPED = "STOPPED"


class Feed(Protocol):
    """One source of market events (replay, polling, websocket)."""

    @property
    def state(self) -> FeedState: ...

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None:
        """Add instruments; a running feed subscribes them at once, a reconnect resubscribes."""
        ...

    def unsubscribe(self, instruments: Iterable[InstrumentId]) -> None: ...

    async def run(self, sink: Sink) -> None:
        """Deliver events to ``sink`` until :meth:`stop` (or, for a finite replay, the end)."""
        ...

    def stop(self) -> None: ...


class MarketData(Protocol):
    """What services ask of market data: marks, history, and a stream of events."""

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None: ...

    def latest(self, instrument_id: InstrumentId) -> Quote | None:
        """The last validated quote for the instrument, if any."""
        ...

    def history(
        self,
        instrument_id: InstrumentId,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Stored bars whose close is in ``(start, end]``, oldest first."""
        ...

    def listen(self, sink: Sink) -> None:
        """Also deliver every validated event to ``sink``."""
        ...


@dataclass(frozen=True, slots=True)
class BarSeries:
    """What a bar store holds for one instrument and timeframe."""

    instrument_id: InstrumentId
    timeframe: Timeframe
    count: int
    first: datetime
    last: datetime


class BarStore(Protocol):
    """Stored bars, per instrument and timeframe."""

    def write(self, instrument_id: InstrumentId, timeframe: Timeframe, bars: Iterable[Bar]) -> int:
        """Merge ``bars`` into the series (a bar at a stored close replaces it); returns how
        many closes were not stored before."""
        ...

    def read(
        self,
        instrument_id: InstrumentId,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Bars whose close is in ``(start, end]``, oldest first."""
        ...

    def series(self) -> list[BarSeries]: ...
