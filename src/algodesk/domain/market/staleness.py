"""Stale-feed detection: an instrument whose feed has been silent for longer than
``max_silence`` while its market is open is *stale*; it is fresh again at the next good event.

Silence is counted on arrival time (the desk's clock), from the later of the last good event and
the moment the session opened, so a market opening in the morning is not stale at once just
because nothing arrived overnight. Only validated events count: a feed that sends only bad ticks
is as silent as one that sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from algodesk.domain.identifiers import InstrumentId

__all__ = ["FeedResumed", "FeedStale", "StaleWatch"]


@dataclass(frozen=True, slots=True)
class FeedStale:
    instrument_id: InstrumentId
    at: datetime
    last_event: datetime | None
    max_silence: timedelta

    def describe(self) -> str:
        last = self.last_event.isoformat() if self.last_event else "never"
        return (
            f"{self.instrument_id}: no market data for more than "
            f"{self.max_silence.total_seconds():.0f}s during market hours (last: {last}); "
            "entries paused, exits still run"
        )


@dataclass(frozen=True, slots=True)
class FeedResumed:
    instrument_id: InstrumentId
    at: datetime
    stale_since: datetime

    def describe(self) -> str:
        return (
            f"{self.instrument_id}: market data resumed after "
            f"{(self.at - self.stale_since).total_seconds():.0f}s; entries allowed again"
        )


#: When the instrument's current session opened, or None while its market is closed.
SessionOpen = Callable[[InstrumentId, datetime], datetime | None]


class StaleWatch:
    def __init__(self, max_silence: timedelta) -> None:
        if max_silence <= timedelta(0):
            raise ValueError("StaleWatch: expected a positive max_silence")
        self.max_silence = max_silence
        self._seen: dict[InstrumentId, datetime | None] = {}
        self._stale: dict[InstrumentId, datetime] = {}

    def watch(self, instruments: Iterable[InstrumentId]) -> None:
        for iid in instruments:
            self._seen.setdefault(iid, None)

    def unwatch(self, instruments: Iterable[InstrumentId]) -> None:
        for iid in instruments:
            self._seen.pop(iid, None)
            self._stale.pop(iid, None)

    def is_stale(self, instrument_id: InstrumentId) -> bool:
        return instrument_id in self._stale

    def stale(self) -> dict[InstrumentId, datetime]:
        """The stale instruments and since when."""
        return dict(self._stale)

    def seen(self, instrument_id: InstrumentId, at: datetime) -> FeedResumed | None:
        """A good event arrived; a stale instrument becomes fresh (the change is returned)."""
        if instrument_id not in self._seen:
            return None
        self._seen[instrument_id] = at
        since = self._stale.pop(instrument_id, None)
        return FeedResumed(instrument_id, at, since) if since is not None else None

    def check(self, now: datetime, session_open: SessionOpen) -> list[FeedStale]:
        """Instruments that became stale since the last check."""
        changes: list[FeedStale] = []
        for iid, last in self._seen.items():
            if iid in self._stale:
                continue
            opened = session_open(iid, now)
            if opened is None:
                continue
            start = opened if last is None else max(last, opened)
            if now - start > self.max_silence:
                self._stale[iid] = now
                changes.append(FeedStale(iid, now, last, self.max_silence))
        return changes
