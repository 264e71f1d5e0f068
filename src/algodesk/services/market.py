"""The desk's view of the market: the instrument master, validated marks, exchange calendars
and stale-feed detection, behind the engine's ``MarketView`` and the ``MarketData`` port.

Feeds hand every event to :meth:`MarketService.on_event` (their sink). An event is validated
(:mod:`algodesk.domain.market.validation`); a rejected one is counted and logged and goes no
further. A good one becomes the instrument's mark, tells the stale watch the feed is alive, and
is passed to the listeners (the paper exchange, the exit runner, the dashboard).

Stale-feed policy: an instrument with no good event for ``max_silence`` while its market is
open is stale. Its *entries* are denied (gate ``FEED_STALE``) until data resumes; orders that
only reduce a position still go, judged on the last good mark, because being unable to exit is
the worse risk. A :class:`~algodesk.domain.market.staleness.FeedStale` alert is published when
it happens and a ``FeedResumed`` when it ends.

Feeds run on an event loop thread and the engine on others: every structure here is a dict
written by one key at a time, which CPython keeps consistent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.market.day_refs import DayReferences
from algodesk.domain.market.staleness import FeedResumed, FeedStale, StaleWatch
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.market.validation import TickValidator, Verdict
from algodesk.domain.matching.observations import Bar, Quote, TradeTick
from algodesk.domain.risk.base import Mark
from algodesk.ports.calendar import Calendars, CalendarUnavailableError
from algodesk.ports.clock import Clock
from algodesk.ports.instruments import InstrumentStore
from algodesk.ports.market_data import BarStore, MarketEvent, Sink

__all__ = ["FeedAlert", "MarketService"]

_log = logging.getLogger(__name__)

FeedAlert = FeedStale | FeedResumed


def _mark(event: MarketEvent) -> Mark:
    if isinstance(event, Quote):
        return Mark(event.last, event.ts, event.bid, event.ask)
    if isinstance(event, TradeTick):
        return Mark(event.price, event.ts)
    return Mark(event.close, event.ts_close)


class MarketService:
    def __init__(
        self,
        instruments: InstrumentStore,
        calendars: Calendars,
        clock: Clock,
        *,
        validator: TickValidator | None = None,
        max_silence: timedelta = timedelta(seconds=30),
        bars: BarStore | None = None,
    ) -> None:
        self._instruments = instruments
        self._cache: dict[InstrumentId, Instrument] = {}
        self._calendars = calendars
        self._clock = clock
        self.validator = validator or TickValidator()
        self.watch = StaleWatch(max_silence)
        self._bars = bars
        self._marks: dict[InstrumentId, Mark] = {}
        self._day_refs = DayReferences()
        self._day_lock = threading.Lock()  # the feed's thread notes, the engine's threads read
        self._quotes: dict[InstrumentId, Quote] = {}
        self._listeners: list[Sink] = []
        self._alert_listeners: list[Callable[[FeedAlert], None]] = []
        self._unknown_venues: set[Venue] = set()

    # -- MarketView (the engine's questions) ------------------------------------------------

    def instrument(self, instrument_id: InstrumentId) -> Instrument | None:
        found = self._cache.get(instrument_id)
        if found is None:
            # Misses are not cached: an instrument imported later is found on the next order.
            found = self._instruments.get(instrument_id)
            if found is not None:
                self._cache[instrument_id] = found
        return found

    def forget_instruments(self) -> None:
        """Drop cached instruments (after an import that changed stored ones)."""
        self._cache.clear()

    def mark(self, instrument_id: InstrumentId) -> Mark | None:
        return self._marks.get(instrument_id)

    def is_open(self, venue: Venue, now: datetime) -> bool:
        """Whether the venue trades at ``now``. A venue without a calendar, or a date beyond the
        calendar's holiday data, counts as closed (fail closed), logged once per venue."""
        try:
            return self._calendars.for_venue(venue).is_open(now)
        except CalendarUnavailableError as exc:
            if venue not in self._unknown_venues:
                self._unknown_venues.add(venue)
                _log.error("market hours unknown, orders denied: %s", exc)
            return False

    def trading_day(self, instrument_id: InstrumentId, at: datetime) -> date | None:
        """The session date ``at`` counts towards at the instrument's venue (the next session's
        once today's has closed); None when its calendar cannot say."""
        try:
            return self._calendars.for_venue(instrument_id.venue).trading_day(at)
        except CalendarUnavailableError:
            return None

    def feed_stale(self, instrument_id: InstrumentId) -> bool:
        return self.watch.is_stale(instrument_id)

    def day_marks(self, day: date) -> dict[InstrumentId, Decimal]:
        """Each instrument's price at the start of ``day`` (UTC), for today's P&L: the last
        mark before it, or the day's first mark when the desk started during the day."""
        with self._day_lock:
            return self._day_refs.on(day)

    def marks(self) -> dict[InstrumentId, Mark]:
        """A copy of the latest mark of every instrument that has one."""
        return dict(self._marks)

    # -- MarketData ---------------------------------------------------------------------------

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None:
        self.watch.watch(instruments)

    def latest(self, instrument_id: InstrumentId) -> Quote | None:
        return self._quotes.get(instrument_id)

    def history(
        self,
        instrument_id: InstrumentId,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        return self._bars.read(instrument_id, timeframe, start, end) if self._bars else []

    def listen(self, sink: Sink) -> None:
        self._listeners.append(sink)

    def on_alert(self, listener: Callable[[FeedAlert], None]) -> None:
        self._alert_listeners.append(listener)

    # -- the feeds' side ----------------------------------------------------------------------

    def on_event(self, event: MarketEvent) -> Verdict | None:
        """A feed's sink: validate, mark, and pass on. Returns the rejection, if any."""
        verdict = self.validator.check(event)
        if verdict is not None:
            _log.warning("market data rejected (%s): %s", verdict.code, verdict.message)
            return verdict
        iid = event.instrument_id
        mark, held = _mark(event), self._marks.get(iid)
        if held is None or mark.ts >= held.ts:  # a late event of another kind never rewinds it
            self._marks[iid] = mark
            with self._day_lock:
                self._day_refs.note(iid, held, mark)
        if isinstance(event, Quote):
            self._quotes[iid] = event
        self.watch.watch([iid])  # an instrument with data is watched, subscribed or not
        resumed = self.watch.seen(iid, self._clock.now())
        if resumed is not None:
            self._alert(resumed)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # one failing listener must not starve the others
                _log.exception("market data listener failed on %s", event)
        return None

    def check_stale(self) -> list[FeedStale]:
        """Run the stale watch now (the desk calls this every few seconds)."""
        changes = self.watch.check(self._clock.now(), self._session_open)
        for change in changes:
            self._alert(change)
        return changes

    def _session_open(self, instrument_id: InstrumentId, now: datetime) -> datetime | None:
        try:
            calendar = self._calendars.for_venue(instrument_id.venue)
            if not calendar.is_open(now):
                return None
            session = calendar.session(calendar.trading_day(now))
        except CalendarUnavailableError:
            return None
        return session.open if session is not None else None

    def _alert(self, alert: FeedAlert) -> None:
        log = _log.warning if isinstance(alert, FeedStale) else _log.info
        log("%s", alert.describe())
        for listener in self._alert_listeners:
            try:
                listener(alert)
            except Exception:
                _log.exception("feed alert listener failed on %s", alert)
