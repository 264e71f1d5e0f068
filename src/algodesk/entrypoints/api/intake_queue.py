"""The webhook's worker threads, and the queue in front of them.

Taking an alert in (parse, check, store, commit) runs in a worker thread, off the event loop.
Every thread that runs Python competes for the one interpreter lock with the alert thread,
which executes what was taken in, and the lock is shared out roughly evenly among the threads
that want it. With the server's default pool (then 40 threads), a flood of alerts kept 40 threads
busy and the alert thread got a small share of the CPU: measured with ``benchmarks/webhook.py`` at
1,000 alerts/s on SQLite, 16 threads executed 65 alerts/s while taking them in, 8 threads 168/s
and 4 threads 257/s (as fast as they took them in, filled within 0.4 s). So the webhook takes
alerts in on :data:`WEBHOOK_THREADS` threads of its own (not the API's reads' pool: slow reads
must not hold up alerts), and an alert waits for one on the event loop, where waiting costs
nothing.

A flood then queues on the loop. Past TradingView's 3 s it would give up on the request (and
not resend it), so a new alert is answered 503 ``desk_busy`` at once, without being stored,
when it would wait longer than :data:`QUEUE_LIMIT` for a thread: TradingView resends a 5xx
after 5 s, up to three times. Its wait is the alerts queued ahead of it times the time an alert
takes in a thread (the median of the last :data:`SAMPLES`, so that a disk stalling for a moment,
which makes the alerts in the threads then slow, does not make the queue look long), over the
threads; or, if longer, how long the alert at the head of the queue has already waited (a queue
that does not move). An alert that was stored before (a resend of one whose answer was lost)
is not refused: it waits its turn, and the thread answers it as that alert.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from algodesk.services.backlog import RefusalTally

__all__ = ["QUEUE_LIMIT", "WEBHOOK_THREADS", "IntakeQueue"]

#: Threads taking alerts in at once (see the module for the measurements).
WEBHOOK_THREADS = 4
#: The longest expected wait for a thread, in seconds, before an alert is answered 503
#: (TradingView gives up after 3 s).
QUEUE_LIMIT = 1.0
#: How many of the latest alerts' times in a thread the median is taken of.
SAMPLES = 64
_log = logging.getLogger("algodesk.alerts")

_T = TypeVar("_T")


class IntakeQueue:
    """A few threads for taking alerts in, and how long a new alert would wait for one. Used
    on the event loop only."""

    def __init__(
        self,
        threads: int = WEBHOOK_THREADS,
        limit: float = QUEUE_LIMIT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if threads < 1:
            raise ValueError(f"expected at least 1 webhook thread, was {threads}")
        self.threads = threads
        self.limit = limit
        self._monotonic = monotonic
        self._limiter = anyio.CapacityLimiter(threads)
        # The threads themselves: not anyio's default pool, which the API's reads use (it is
        # small, and slow reads there must not hold up alerts).
        self._threads = anyio.CapacityLimiter(threads)
        self._waiting: dict[object, float] = {}  # the alerts queued (when each came), in order
        self._took: deque[float] = deque(maxlen=SAMPLES)  # seconds in a thread, latest last
        self._refusals = RefusalTally(monotonic)  # since the queue last filled up

    @property
    def waiting(self) -> int:
        """Alerts waiting for a thread now."""
        return len(self._waiting)

    @property
    def working(self) -> int:
        """Alerts in a thread now."""
        return int(self._limiter.statistics().borrowed_tokens)

    @property
    def took(self) -> float | None:
        """The median time of the latest alerts in a thread (None until one has been)."""
        return statistics.median(self._took) if self._took else None

    def wait(self) -> float:
        """How long a new alert would wait for a thread: the alerts ahead of it times the
        median time in a thread over the threads, or the head's wait so far if longer."""
        if not self._waiting:
            return 0.0
        head = max(0.0, self._monotonic() - next(iter(self._waiting.values())))
        return max(head, (len(self._waiting) + 1) * (self.took or 0.0) / self.threads)

    def full(self) -> bool:
        """Whether a new alert would wait longer than :attr:`limit`."""
        return self.wait() > self.limit

    def refuse(self) -> None:
        """Count an alert refused because the queue was full: logged when refusals start and
        then at most every 30 s (a :class:`~algodesk.services.backlog.RefusalTally`); their
        end when an alert next finds the queue empty."""
        if (refused := self._refusals.refused()) is not None:
            _log.warning(
                "alerts: a new alert would wait about %.1f s for one of the %d webhook threads "
                "(%d queued): alerts are refused with 503 desk_busy; %d refused so far",
                self.wait(),
                self.threads,
                self.waiting,
                refused,
            )

    async def run(self, func: Callable[..., _T], *args: object) -> _T:
        """``func(*args)`` in a thread, once one of the :attr:`threads` is free (first come,
        first served); the time it took is kept for :attr:`took`."""
        if self._refusals.count and not self._waiting:
            refused = self._refusals.ended()
            _log.warning("alerts: the webhook queue is empty again; %d were refused", refused)
        turn = object()
        self._waiting[turn] = self._monotonic()
        try:
            await self._limiter.acquire_on_behalf_of(turn)
        finally:
            del self._waiting[turn]
        start = self._monotonic()
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self._threads)
        finally:
            self._took.append(self._monotonic() - start)
            self._limiter.release_on_behalf_of(turn)
