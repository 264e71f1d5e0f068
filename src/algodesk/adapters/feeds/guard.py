"""The output guard every feed puts in front of its sink: per instrument and kind, time only
moves forward.

A feed that switches between a socket and a polling fallback, or that reconnects and gets a
snapshot again, sees the same bar twice or an older one after a newer one. Downstream code
(marks, stop monitors, bar aggregation, strategies) must never see that, so each feed passes
every event through one :class:`FeedGuard`, which keeps, per ``(instrument, kind)``, the
timestamp of the last event it let through and drops anything not strictly newer.

The kinds are :class:`Quote`, :class:`TradeTick` and :class:`Bar`, tracked separately: a quote
stamped 09:16:00 and the bar closing at 09:16:00 are both news. A bar's time is its
``ts_close``. Two trades printed in the same microsecond are indistinguishable here and the
second is dropped; feeds that deliver such trades should stamp them apart.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar
from algodesk.ports.market_data import MarketEvent, Sink

__all__ = ["FeedGuard", "event_time"]


def event_time(event: MarketEvent) -> datetime:
    """The time a feed orders events by: ``ts_close`` for a bar, ``ts`` otherwise."""
    return event.ts_close if isinstance(event, Bar) else event.ts


class FeedGuard:
    """Lets an event through only if it is strictly newer than the last one of its kind."""

    def __init__(self) -> None:
        self._last: dict[tuple[InstrumentId, type[MarketEvent]], datetime] = {}
        self._dropped: Counter[str] = Counter()

    def admit(self, event: MarketEvent) -> bool:
        """Record and accept ``event`` if it is news; count and refuse it otherwise."""
        key = (event.instrument_id, type(event))
        ts = event_time(event)
        last = self._last.get(key)
        if last is not None and ts <= last:
            self._dropped[type(event).__name__] += 1
            return False
        self._last[key] = ts
        return True

    def wrap(self, sink: Sink) -> Sink:
        """A sink that hands on to ``sink`` only what :meth:`admit` accepts."""

        def guarded(event: MarketEvent) -> None:
            if self.admit(event):
                sink(event)

        return guarded

    def last(self, instrument_id: InstrumentId, kind: type[MarketEvent]) -> datetime | None:
        """The time of the last event of ``kind`` let through for the instrument, if any."""
        return self._last.get((instrument_id, kind))

    @property
    def dropped(self) -> int:
        """How many events were refused, all kinds together."""
        return sum(self._dropped.values())

    def dropped_by_kind(self) -> dict[str, int]:
        """Refused events per kind name (``"Bar"``, ``"Quote"``, ``"TradeTick"``)."""
        return dict(self._dropped)

    def reset(self) -> None:
        """Forget every last time (the counters stay): for a replay that starts over."""
        self._last.clear()
