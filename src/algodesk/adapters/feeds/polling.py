"""A feed that asks a quote function on an interval: a primary source on its own, and the
fallback of the WebSocket feed while the socket is down.

``fetch(instruments)`` is any coroutine returning market events for those instruments (a REST
quote call, a bar-history call). It should return a recent *window* (the last few bars, the
latest quote) rather than only what is new: after an outage the first good poll then covers
the gap, and the :class:`FeedGuard` drops what was already emitted. Its exceptions are logged
with their message, so it must not put secrets in them.

Each call is bounded by ``timeout``, enforced with ``asyncio.timeout`` rather than
``asyncio.wait_for``: on Python 3.11, ``wait_for`` returns the result and swallows a
cancellation that arrives just as the call completes, and a fallback whose cancellation is lost
keeps polling forever. A failed or timed-out call is counted, logged, and followed by a backoff
delay instead of the interval; the first success resets the backoff. The state is
``STREAMING`` while fetches succeed and ``DOWN`` while they fail.

As a fallback, the WebSocket feed runs :meth:`PollingFeed.run` in a task of its own and cancels
that task when the socket is back, then calls :meth:`PollingFeed.poll_once` one last time to
close the gap between the last poll and the socket's first message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from algodesk.adapters.feeds.backoff import Backoff
from algodesk.adapters.feeds.guard import FeedGuard, deliver, event_time
from algodesk.domain.identifiers import InstrumentId
from algodesk.ports.market_data import FeedState, MarketEvent, Sink

__all__ = ["Fetch", "PollingFeed"]

log = logging.getLogger(__name__)

Fetch = Callable[[list[InstrumentId]], Awaitable[Sequence[MarketEvent]]]


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # called outside the event loop
        return None


class PollingFeed:
    """Polls ``fetch`` every ``interval`` seconds for the subscribed instruments."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        interval: float = 1.0,
        timeout: float = 5.0,
        backoff: Backoff | None = None,
        name: str = "polling",
    ) -> None:
        if interval <= 0:
            raise ValueError(f"PollingFeed: expected interval > 0 seconds, was {interval}")
        if timeout <= 0:
            raise ValueError(f"PollingFeed: expected timeout > 0 seconds, was {timeout}")
        self._fetch = fetch
        self.interval = interval
        self.timeout = timeout
        self.backoff = backoff if backoff is not None else Backoff(base=interval, cap=60.0)
        self.name = name
        self.guard = FeedGuard()
        self.polls = 0
        self.errors = 0
        self.timeouts = 0
        self._subscribed: dict[InstrumentId, None] = {}  # insertion-ordered set
        self._state = FeedState.STARTING
        self._task: asyncio.Task[object] | None = None
        self._stop_requested = False

    @property
    def state(self) -> FeedState:
        return self._state

    @property
    def instruments(self) -> list[InstrumentId]:
        """The subscribed instruments, in subscription order."""
        return list(self._subscribed)

    def subscribe(self, instruments: Iterable[InstrumentId]) -> None:
        for instrument_id in instruments:
            self._subscribed[instrument_id] = None

    def unsubscribe(self, instruments: Iterable[InstrumentId]) -> None:
        for instrument_id in instruments:
            self._subscribed.pop(instrument_id, None)

    async def poll_once(self, sink: Sink) -> bool:
        """Fetch once and deliver the new events (oldest first); whether the fetch worked."""
        instruments = self.instruments
        if not instruments:
            return True
        try:
            async with asyncio.timeout(self.timeout):
                events = await self._fetch(instruments)
            ordered = sorted(events, key=event_time)  # a malformed answer is a failed fetch
        except TimeoutError:
            self.errors += 1
            self.timeouts += 1
            self._state = FeedState.DOWN
            log.warning("%s: fetch timed out after %.3gs", self.name, self.timeout)
            return False
        except Exception as exc:
            self.errors += 1
            self._state = FeedState.DOWN
            log.warning("%s: fetch failed: %s: %s", self.name, type(exc).__name__, exc)
            return False
        self.polls += 1
        self.backoff.reset()
        self._state = FeedState.STREAMING
        for event in ordered:
            if event.instrument_id in self._subscribed and self.guard.admit(event):
                deliver(sink, event, self.name)
        return True

    async def run(self, sink: Sink) -> None:
        """Poll until :meth:`stop` (or until the task running it is cancelled)."""
        task = _current_task()
        self._task = task
        try:
            while not self._stop_requested:
                ok = await self.poll_once(sink)
                if self._stop_requested:
                    break
                await asyncio.sleep(self.interval if ok else self.backoff.next_delay())
        except asyncio.CancelledError:
            # Swallow only the cancellation stop() sent; one from anyone else goes on up.
            if not self._stop_requested or task is None or task.uncancel() > 0:
                raise
        finally:
            self._task = None
            self._stop_requested = False
            self._state = FeedState.STOPPED

    def stop(self) -> None:
        """End :meth:`run` at once, even mid-fetch. Before ``run`` starts, it makes the next
        ``run`` return at once."""
        if self._stop_requested:  # cancelling twice would leak a CancelledError out of run()
            return
        self._stop_requested = True
        if self._task is not None and self._task is not _current_task():
            self._task.cancel()
