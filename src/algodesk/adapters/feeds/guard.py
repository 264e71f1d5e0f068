"""The output guard every feed puts in front of its sink: per instrument and kind, time only
moves forward.

A feed that switches between a socket and a polling fallback, or that reconnects and gets a
snapshot again, sees the same bar twice or an older one after a newer one. Downstream code
(marks, stop monitors, bar aggregation, strategies) must never see that, so each feed passes
every event through one :class:`FeedGuard`, which keeps, per ``(instrument, kind)``, the
timestamp of the last event it let through and drops anything older. A bar must be strictly
newer than the last bar; quotes and trades may share a timestamp (feeds stamp to the second),
and a trade that repeats the time and the trade id of one let through is dropped as a repeat.

The kinds are :class:`Quote`, :class:`TradeTick` and :class:`Bar`, tracked separately: a quote
stamped 09:16:00 and the bar closing at 09:16:00 are both news. A bar's time is its
``ts_close``. The guard also shields the feed from its consumers (:func:`deliver`).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar, TradeTick
from algodesk.ports.market_data import MarketEvent, Sink

__all__ = ["FeedGuard", "deliver", "event_time"]

log = logging.getLogger(__name__)


def event_time(event: MarketEvent) -> datetime:
    """The time a feed orders events by: ``ts_close`` for a bar, ``ts`` otherwise."""
    return event.ts_close if isinstance(event, Bar) else event.ts


class FeedGuard:
    """Lets an event through only if it is news: see :meth:`admit`."""

    def __init__(self) -> None:
        self._last: dict[tuple[InstrumentId, type[MarketEvent]], datetime] = {}
        self._dropped: Counter[str] = Counter()
        self._ids_at_last: dict[tuple[InstrumentId, type[MarketEvent]], set[str]] = {}

    def admit(self, event: MarketEvent) -> bool:
        """Record and accept ``event`` if it is news; count and refuse it otherwise.

        A bar must be strictly newer than the last bar. Quotes and trades may share a timestamp
        (feeds stamp to the second; several prints happen in one second): an older one is
        refused, and a trade with the same time *and* the same trade id as one let through is
        a repeat.
        """
        key = (event.instrument_id, type(event))
        ts = event_time(event)
        last = self._last.get(key)
        trade_id = event.trade_id if isinstance(event, TradeTick) else None
        repeat = (
            last is not None
            and ts == last
            and (
                isinstance(event, Bar)
                or (trade_id is not None and trade_id in self._ids_at_last.get(key, ()))
            )
        )
        if (last is not None and ts < last) or repeat:
            self._dropped[type(event).__name__] += 1
            return False
        if last != ts:
            self._ids_at_last[key] = set()
        if trade_id is not None:
            self._ids_at_last.setdefault(key, set()).add(trade_id)
        self._last[key] = ts
        return True

    def wrap(self, sink: Sink, name: str = "feed") -> Sink:
        """A sink that hands on to ``sink`` only what :meth:`admit` accepts, and never raises
        (see :func:`deliver`)."""

        def guarded(event: MarketEvent) -> None:
            if self.admit(event):
                deliver(sink, event, name)

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
        self._ids_at_last.clear()


def deliver(sink: Sink, event: MarketEvent, name: str) -> None:
    """Hand ``event`` to ``sink``; an exception in the consumer is logged, not raised, so a bug
    in one strategy or monitor never stops market data for the rest of the desk."""
    try:
        sink(event)
    except Exception:
        log.exception("%s: the sink failed on %s; the feed goes on", name, event)
