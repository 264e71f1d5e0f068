"""Replay stored market events: at N× speed or as fast as possible, once or endlessly.

:class:`ReplayFeed` is the feed of the demo desk and of paper sessions driven by recorded data;
iterating it gives the same events synchronously, for backtests.

Choices:

* Events are sorted by time on the way in (stably, so equal times keep their order); a bar's
  time is its ``ts_close``. Every event then goes through a :class:`FeedGuard`, so duplicates in
  the stored data are dropped here rather than downstream.
* At ``speed=N`` the feed sleeps ``gap / N`` between two emitted events, where ``gap`` is the
  difference of their timestamps; events of instruments not subscribed are skipped without
  losing their time, so the subscribed ones keep their real spacing. ``speed=None`` sleeps not
  at all, but yields to the event loop every ``yield_every`` events so other tasks (and
  :meth:`ReplayFeed.stop`) still run.
* ``loop=True`` plays the data again and again, each lap shifted forward by the span of the data
  plus one step (``loop_gap``, by default the smallest positive gap between two events), so
  timestamps keep increasing and a 1-minute bar grid stays on the grid.
* The subscription starts as every instrument found in the data (``instruments=None``) or as the
  given ones; :meth:`subscribe` and :meth:`unsubscribe` take effect at the next event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import timedelta

from algodesk.adapters.feeds.guard import FeedGuard, event_time
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar
from algodesk.ports.market_data import FeedState, MarketEvent, Sink

__all__ = ["ReplayFeed", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # called outside the event loop
        return None


def _shifted(event: MarketEvent, delta: timedelta) -> MarketEvent:
    if not delta:
        return event
    if isinstance(event, Bar):
        return dataclasses.replace(event, ts_close=event.ts_close + delta)
    return dataclasses.replace(event, ts=event.ts + delta)


def _smallest_gap(events: list[MarketEvent]) -> timedelta | None:
    gaps = (event_time(b) - event_time(a) for a, b in itertools.pairwise(events))
    return min((g for g in gaps if g > timedelta(0)), default=None)


_IDLE_LAP_SECONDS = 0.05


class ReplayFeed:
    """Plays a fixed list of events to a sink; see the module docstring for the timing rules."""

    def __init__(
        self,
        events: Iterable[MarketEvent],
        *,
        speed: float | None = None,
        loop: bool = False,
        loop_gap: timedelta | None = None,
        instruments: Iterable[InstrumentId] | None = None,
        sleep: Sleep = asyncio.sleep,
        yield_every: int = 256,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"ReplayFeed: expected speed > 0 or None, was {speed}")
        if yield_every < 1:
            raise ValueError(f"ReplayFeed: expected yield_every >= 1, was {yield_every}")
        self._events = sorted(events, key=event_time)
        self._speed = speed
        self._loop = loop
        self._lap = timedelta(0)
        if loop and self._events:
            step = loop_gap if loop_gap is not None else _smallest_gap(self._events)
            if step is None or step <= timedelta(0):
                raise ValueError(
                    "ReplayFeed: loop=True needs a positive loop_gap when the data has no two "
                    f"distinct timestamps; was loop_gap={loop_gap}"
                )
            self._lap = event_time(self._events[-1]) - event_time(self._events[0]) + step
        self._subscribed = (
            {e.instrument_id for e in self._events} if instruments is None else set(instruments)
        )
        self._sleep = sleep
        self._yield_every = yield_every
        self.guard = FeedGuard()
        self._state = FeedState.STARTING
        self._task: asyncio.Task[object] | None = None
        self._stop_requested = False

    @property
    def state(self) -> FeedState:
        return self._state

    @property
    def instruments(self) -> frozenset[InstrumentId]:
        """The instruments currently emitted."""
        return frozenset(self._subscribed)

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None:
        self._subscribed.update(instruments)

    def unsubscribe(self, instruments: Iterable[InstrumentId]) -> None:
        self._subscribed.difference_update(instruments)

    def __iter__(self) -> Iterator[MarketEvent]:
        """One pass over the data, synchronously (``loop`` and ``speed`` do not apply).

        Filtered by the current subscription and by a fresh guard, so it yields what one lap of
        :meth:`run` would deliver.
        """
        guard = FeedGuard()
        for event in self._events:
            if event.instrument_id in self._subscribed and guard.admit(event):
                yield event

    async def run(self, sink: Sink) -> None:
        """Deliver the events to ``sink``; return at the end of the data (never, if looping)
        or soon after :meth:`stop`."""
        task = asyncio.current_task()
        self._task = task
        try:
            if not self._stop_requested:
                self._state = FeedState.STREAMING
                await self._play(self.guard.wrap(sink, "replay"))
        except asyncio.CancelledError:
            # Swallow only the cancellation stop() sent; one from anyone else goes on up.
            if not self._stop_requested or task is None or task.uncancel() > 0:
                raise
        finally:
            self._task = None
            self._stop_requested = False
            self._state = FeedState.STOPPED

    def stop(self) -> None:
        """End :meth:`run` at once, also in the middle of a long sleep."""
        if self._stop_requested:  # cancelling twice would leak a CancelledError out of run()
            return
        self._stop_requested = True
        if self._task is not None and self._task is not _current_task():
            self._task.cancel()

    async def _play(self, emit: Sink) -> None:
        shift = timedelta(0)
        previous = None
        while self._events:
            since_yield = 0
            emitted = False
            for stored in self._events:
                if self._stop_requested:
                    return
                if stored.instrument_id not in self._subscribed:
                    continue
                ts = event_time(stored) + shift
                if self._speed is not None:
                    if previous is not None and ts > previous:
                        await self._sleep((ts - previous).total_seconds() / self._speed)
                else:
                    since_yield += 1
                    if since_yield >= self._yield_every:
                        since_yield = 0
                        await asyncio.sleep(0)
                previous, emitted = ts, True
                emit(_shifted(stored, shift))
            if not self._loop:
                return
            shift += self._lap
            # A lap that emitted nothing (no instrument subscribed) must not spin the CPU.
            await (asyncio.sleep(0) if emitted else self._sleep(_IDLE_LAP_SECONDS))
