"""How far behind the alert processor runs, and when the webhook stops taking alerts for it.

A stored alert is a promise: it will be executed. When alerts keep arriving faster than the
desk executes them, the inbox grows until its oldest alerts are older than their hook's max lag
when they are reached, and they are then refused ``stale``: answered 200, never traded. Better
to say so at the door. :class:`AlertBacklog` estimates how long a new alert would wait before
the processor reaches it (the alerts ahead of it times the processor's recent time per alert),
and the webhook refuses an alert with 503 and ``Retry-After`` while that wait is longer than
the hook can take (half its max lag, and at most :data:`DEFAULT_LIMIT`). Nothing is stored, so
TradingView's resends (5 s apart, up to three) find the desk again later. Refusing costs far
less than storing, which leaves the processor more of the CPU to catch up with.

The alerts ahead are counted by inbox id: the newest stored (as pending) minus the newest
settled. Ids of alerts refused on arrival (never processed) between the two count too, so the
estimate errs towards caution. Times are measured by the processor from one recorded batch of
fates to the next within a drain (idle time between drains is not counted) and smoothed.

Threads: the webhook's threads call :meth:`stored` and :meth:`refusal`, the alert thread
:meth:`settled`; each writes plain attributes (atomic under the interpreter), and a reading
that is one alert out of date is as good as an exact one here.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

__all__ = ["DEFAULT_LIMIT", "AlertBacklog"]

_log = logging.getLogger("algodesk.alerts")

#: The longest wait the webhook accepts an alert into (a hook with a short max lag takes less).
DEFAULT_LIMIT = timedelta(seconds=10)
#: Weight of the newest batch in the smoothed time per alert.
SMOOTHING = 0.3
#: Bounds of the ``Retry-After`` the webhook answers with, in seconds.
RETRY_AFTER = (1, 60)


class AlertBacklog:
    """The alerts ahead of a new one and the processor's recent pace (see the module)."""

    def __init__(self, limit: timedelta = DEFAULT_LIMIT) -> None:
        if limit <= timedelta(0):
            raise ValueError(f"expected a backlog limit above 0 s, was {limit}")
        self.limit = limit
        self._stored = 0  # the newest inbox id stored as pending
        self._settled = 0  # the newest inbox id whose fate was recorded
        self._per_alert: float | None = None  # seconds, smoothed; None until measured
        self._refusing = False
        self._refused = 0  # alerts refused since the desk fell behind

    def stored(self, alert_id: int) -> None:
        """An alert was stored as pending (the webhook)."""
        self._stored = max(self._stored, alert_id)

    def settled(self, last_id: int, count: int, seconds: float) -> None:
        """The processor recorded the fates of ``count`` alerts, the newest ``last_id``, in
        ``seconds`` since its previous batch of fates (or since its drain began)."""
        self._settled = max(self._settled, last_id)
        if count <= 0:
            return
        pace = max(seconds, 0.0) / count
        previous = self._per_alert
        self._per_alert = pace if previous is None else previous + SMOOTHING * (pace - previous)

    @property
    def ahead(self) -> int:
        """Alerts stored and not yet settled (an upper bound: see the module)."""
        return max(0, self._stored - self._settled)

    def wait(self) -> float:
        """Seconds a new alert would wait before the processor reaches it (0 until the
        processor has been measured)."""
        return self.ahead * (self._per_alert or 0.0)

    def limit_for(self, max_lag: timedelta | None) -> float:
        """The longest wait, in seconds, an alert of a hook with ``max_lag`` is taken into
        (None: of any hook, the desk's limit)."""
        if max_lag is None:
            return self.limit.total_seconds()
        return min(self.limit.total_seconds(), max_lag.total_seconds() / 2)

    def refusal(self, max_lag: timedelta | None) -> tuple[float, float, int] | None:
        """None when an alert of a hook with ``max_lag`` (None: of any hook) may be stored;
        else the expected wait, the limit (both in seconds) and the seconds to retry after. The
        first
        refusal after the desk fell behind and the first acceptance after it caught up are
        logged."""
        wait, limit = self.wait(), self.limit_for(max_lag)
        if wait <= limit:
            if self._refusing:
                self._refusing = False
                _log.warning(
                    "alerts: caught up (a new alert waits about %.1f s); taking alerts again "
                    "after refusing %d",
                    wait,
                    self._refused,
                )
            return None
        if not self._refusing:
            self._refusing, self._refused = True, 0
            _log.warning(
                "alerts: the desk is about %.1f s behind (%d alerts ahead, limit %.1f s): new "
                "alerts are refused with 503 until it catches up",
                wait,
                self.ahead,
                limit,
            )
        self._refused += 1
        low, high = RETRY_AFTER
        return wait, limit, min(high, max(low, math.ceil(wait - limit)))
