"""How far behind the alert processor runs, and when the webhook stops taking alerts for it.

A stored alert is a promise: it will be executed. When alerts keep arriving faster than the
desk executes them, the inbox grows until its oldest alerts are older than their hook's max lag
when they are reached, and they are then refused ``stale``: answered 200, never traded. Better
to say so at the door. :class:`AlertBacklog` estimates how long a new alert would wait before
the processor reaches it, and the webhook refuses an alert with 503 and ``Retry-After`` while
that wait is longer than the hook can take (half its max lag, and at most
:data:`DEFAULT_LIMIT`). Nothing is stored, so TradingView's resends (5 s apart, up to three)
find the desk again later.

**The estimate.** The alerts ahead, counted by inbox id (the newest stored as pending minus the
newest settled), times the processor's time per alert; and, while alerts are waiting, at least
the time since the processor last recorded a fate (a processor stuck on a venue call that hangs,
or failing on a busy database, makes no progress, and its pace says nothing about that). The
time per alert is the time from one recorded batch of fates to the next while alerts were
waiting (idle time and the processor's warm-up are not counted, a failed attempt's time is),
summed over the batches of the last :data:`PACE_WINDOW` and divided by their alerts: many
batches of one alert do not outweigh a batch of thirty, a moment when the alert thread has the
CPU to itself (the webhook's threads all waiting on the database) does not make it look fast
for long, and a slow alert an hour ago does not make it look slow now (with no batch in the
window only the stall counts). Ids of alerts refused on arrival (never processed) between the
two ids count too, so the estimate errs towards caution. At start, :meth:`AlertBacklog.resume`
counts the alerts left pending by the last run, and :meth:`AlertBacklog.begin` marks when the
processor starts on them.

**Calibration.** The pace is the processor's past; the alerts taken in now slow it down (the
webhook's threads want the same CPU), so under a flood it may execute them more slowly than it
did the ones before: measured at 1,000 alerts/s on PostgreSQL, alerts taken at estimates under
10 s were filled up to 11-15.6 s after they were sent. So each alert stored at an estimate of at
least :data:`CALIBRATE_FROM` is remembered with that estimate, and when its fate is recorded the
wait it had is compared with it. The estimate is lengthened by the 90th percentile of those
ratios over the last :data:`CALIBRATION_WINDOW` (the latest 512 at most); the factor is at least
1 (an estimate is never shortened) and at most :data:`MAX_FACTOR`. Shorter estimates are not
compared: there a batch's length and the moment of its commit weigh more than the pace.

Threads: the webhook's threads (and its event loop) call :meth:`~AlertBacklog.stored`,
:meth:`~AlertBacklog.over` and :meth:`~AlertBacklog.refuse`, the alert thread
:meth:`~AlertBacklog.settled`; a lock keeps their updates whole, and logging happens outside it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

__all__ = ["DEFAULT_LIMIT", "AlertBacklog", "RefusalTally"]

_log = logging.getLogger("algodesk.alerts")

#: The longest wait the webhook accepts an alert into (a hook with a short max lag takes less).
DEFAULT_LIMIT = timedelta(seconds=10)
#: The time per alert is measured over the batches of fates recorded in this many seconds.
PACE_WINDOW = 10.0
#: Estimates (seconds) from which an alert's wait is compared with it (see the module).
CALIBRATE_FROM = 1.0
#: The waits compared with their estimates in this many seconds make the correction.
CALIBRATION_WINDOW = 60.0
#: The most the estimate is lengthened by: a flood slowed the processor by up to 1.6 times; a
#: processor that stalled (a venue call that hangs) makes the alerts waiting then wait far
#: longer than estimated, which would otherwise keep the desk refusing alerts for up to a
#: minute after it caught up.
MAX_FACTOR = 2.0
#: Alerts remembered with their estimate, and ratios kept, at most (the oldest go first: the
#: correction is sorted out of the ratios at every batch of fates, which must stay cheap).
_PROMISES = 20_000
_RATIOS = 512
#: Bounds of the ``Retry-After`` the webhook answers with, in seconds.
RETRY_AFTER = (1, 60)
#: While alerts are being refused, the warning is repeated at most this often (seconds).
REPEAT_WARNING = 30.0


class RefusalTally:
    """Alerts refused for one reason, and when to say so: at the first refusal, then at most
    every :data:`REPEAT_WARNING` seconds while refusals go on, and once when they end."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._count = 0  # refused since refusals began (0: not refusing)
        self._warned = 0.0  # when they were last reported

    @property
    def count(self) -> int:
        return self._count

    def refused(self) -> int | None:
        """Count one refusal; the count so far when it is time to report them, else None."""
        with self._lock:
            now = self._monotonic()
            self._count += 1
            if self._count == 1 or now - self._warned >= REPEAT_WARNING:
                self._warned = now
                return self._count
            return None

    def ended(self) -> int:
        """Refusals are over: how many there were (0 when there were none)."""
        with self._lock:
            count, self._count = self._count, 0
            return count


class AlertBacklog:
    """The alerts ahead of a new one and the processor's recent pace (see the module)."""

    def __init__(
        self,
        limit: timedelta = DEFAULT_LIMIT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= timedelta(0):
            raise ValueError(f"expected a backlog limit above 0 s, was {limit}")
        self.limit = limit
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._stored = 0  # the newest inbox id stored as pending
        self._settled = 0  # the newest inbox id whose fate was recorded
        self._progress = monotonic()  # the last fate recorded, or since alerts have waited
        # The batches of the last PACE_WINDOW: (when recorded, seconds, alerts), and sums.
        self._batches: deque[tuple[float, float, int]] = deque()
        self._seconds = 0.0
        self._alerts = 0
        self._refusals = RefusalTally(monotonic)  # since the desk fell behind
        # Calibration: (alert id, estimate, when stored) of the alerts waiting, oldest first;
        # (when settled, wait over estimate) of those settled lately; the correction from them.
        self._promises: deque[tuple[int, float, float]] = deque(maxlen=_PROMISES)
        self._ratios: deque[tuple[float, float]] = deque(maxlen=_RATIOS)
        self._factor = 1.0
        self._factor_at = -math.inf  # when the newest ratio behind it was measured

    def resume(self, oldest_pending: int, newest_pending: int) -> None:
        """At start: the alerts a previous run left pending (ids ``oldest_pending`` to
        ``newest_pending``) are ahead of every new one."""
        with self._lock:
            self._settled = max(self._settled, oldest_pending - 1)
            self._stored = max(self._stored, newest_pending)
            self._progress = self._monotonic()

    def begin(self) -> None:
        """The processor starts working (after its warm-up): time before this is not its."""
        with self._lock:
            self._progress = self._monotonic()

    def stored(self, alert_id: int) -> None:
        """An alert was stored as pending (the webhook)."""
        with self._lock:
            now = self._monotonic()
            if self._stored <= self._settled:  # the processor was idle: its wait starts now
                self._progress = now
            self._stored = max(self._stored, alert_id)
            estimate = self._estimate(now)
            if estimate >= CALIBRATE_FROM:
                self._promises.append((alert_id, estimate, now))

    def settled(self, last_id: int, count: int) -> None:
        """The processor recorded the fates of ``count`` alerts, the newest ``last_id``."""
        with self._lock:
            now = self._monotonic()
            # Timed only while alerts were known to wait: an alert settled before the webhook
            # told of it (the alert thread's poll won the race) ends an idle spell.
            if count > 0 and self._stored > self._settled:
                seconds = max(now - self._progress, 0.0)
                self._batches.append((now, seconds, count))
                self._seconds += seconds
                self._alerts += count
            self._progress = now
            self._settled = max(self._settled, last_id)
            self._calibrate(now)
            caught_up = self._stored <= self._settled and self._refusals.count > 0
        if caught_up and (refused := self._refusals.ended()):
            _log.warning(
                "alerts: caught up (no alert waiting); %d were refused with 503 while the desk "
                "was behind",
                refused,
            )

    def _calibrate(self, now: float) -> None:
        """Compare the waits of the alerts just settled with their estimates, and renew the
        correction from the ratios of the last :data:`CALIBRATION_WINDOW`."""
        promises, ratios = self._promises, self._ratios
        changed = False
        while promises and promises[0][0] <= self._settled:
            _, estimate, stored_at = promises.popleft()
            ratios.append((now, (now - stored_at) / estimate))
            changed = True
        while ratios and ratios[0][0] < now - CALIBRATION_WINDOW:
            ratios.popleft()
            changed = True
        if not changed:
            return
        if not ratios:
            self._factor, self._factor_at = 1.0, -math.inf
            return
        ordered = sorted(ratio for _, ratio in ratios)
        p90 = ordered[min(len(ordered) - 1, (len(ordered) * 9) // 10)]
        self._factor = min(MAX_FACTOR, max(1.0, p90))
        self._factor_at = ratios[-1][0]

    @property
    def factor(self) -> float:
        """What the estimate is lengthened by now (1 when nothing lately measured otherwise;
        see the module)."""
        with self._lock:
            return self._factor_now(self._monotonic())

    def _factor_now(self, now: float) -> float:
        return self._factor if now - self._factor_at <= CALIBRATION_WINDOW else 1.0

    def _expire(self, now: float) -> None:
        batches = self._batches
        while batches and batches[0][0] < now - PACE_WINDOW:
            _, seconds, count = batches.popleft()
            self._seconds -= seconds
            self._alerts -= count
        if not batches:  # no drift left over in empty sums
            self._seconds, self._alerts = 0.0, 0

    @property
    def ahead(self) -> int:
        """Alerts stored and not yet settled (an upper bound: see the module)."""
        return max(0, self._stored - self._settled)

    @property
    def pace(self) -> float | None:
        """Seconds per alert over the batches of the last :data:`PACE_WINDOW`; None when there
        were none (idle, or stuck: then the stall counts, see :meth:`wait`)."""
        with self._lock:
            return self._pace_now(self._monotonic())

    def _pace_now(self, now: float) -> float | None:
        self._expire(now)
        return max(self._seconds, 0.0) / self._alerts if self._alerts else None

    def wait(self) -> float:
        """Seconds a new alert would wait before the processor reaches it."""
        with self._lock:
            return self._wait(self._monotonic())

    def _estimate(self, now: float) -> float:
        """The alerts ahead times the time per alert, not yet corrected."""
        return self.ahead * (self._pace_now(now) or 0.0)

    def _wait(self, now: float) -> float:
        if self.ahead == 0:
            return 0.0
        return max(self._estimate(now) * self._factor_now(now), now - self._progress)

    def limit_for(self, max_lag: timedelta | None) -> float:
        """The longest wait, in seconds, an alert of a hook with ``max_lag`` is taken into
        (None: of any hook, the desk's limit)."""
        if max_lag is None:
            return self.limit.total_seconds()
        return min(self.limit.total_seconds(), max_lag.total_seconds() / 2)

    def over(self, max_lag: timedelta | None) -> tuple[float, float] | None:
        """None when an alert of a hook with ``max_lag`` (None: of any hook) may be stored;
        else the expected wait and the limit, in seconds."""
        limit = self.limit_for(max_lag)
        wait = self.wait()
        return (wait, limit) if wait > limit else None

    def refuse(self, wait: float, limit: float) -> int:
        """Count an alert refused at ``wait`` over ``limit`` (see :meth:`over`) and return the
        seconds to retry after. Refusals are logged when they start and then at most every
        :data:`REPEAT_WARNING` seconds; their end when no alert is waiting (:meth:`settled`)."""
        if (refused := self._refusals.refused()) is not None:
            ahead = self.ahead
            _log.warning(
                "alerts: the desk is about %.1f s behind (%d alerts ahead): alerts it would "
                "reach later than their hook's limit (here %.1f s) are refused with 503 until "
                "it catches up; %d refused so far",
                wait,
                ahead,
                limit,
                refused,
            )
        low, high = RETRY_AFTER
        return min(high, max(low, math.ceil(wait - limit)))
