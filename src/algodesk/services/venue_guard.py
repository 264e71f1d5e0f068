"""A guard around a venue: every request runs with a timeout, and a venue that has just timed
out is treated as unresponsive for a while, so a burst of requests (a kill switch closing 50
positions) costs one timeout, not fifty.

A request that times out raises :class:`VenueUnavailableError`: its outcome is unknown, the
order stays in flight, and reconciliation settles it. The call itself may still finish in its
thread; what it reports arrives through ``drain`` like any other event. A request refused in
the cool-off raises :class:`VenueNotSentError`: it never left, and the engine sends it again
once the cool-off is over (see :mod:`~algodesk.services.unsent`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta

from algodesk.domain.events import OrderEvent
from algodesk.domain.identifiers import Venue
from algodesk.domain.orders import Order
from algodesk.domain.values import Price, Quantity
from algodesk.ports.broker import BrokerPort, VenueNotSentError, VenueUnavailableError
from algodesk.ports.clock import Clock

__all__ = ["GuardedBroker"]


class GuardedBroker:
    def __init__(
        self,
        inner: BrokerPort,
        clock: Clock,
        timeout: timedelta = timedelta(seconds=2),
        cool_off: timedelta = timedelta(seconds=10),
        workers: int = 8,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._timeout = timeout.total_seconds()
        self._cool_off = cool_off
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"venue-{inner.venue}"
        )
        self._lock = threading.Lock()
        self._unresponsive_until: datetime | None = None

    @property
    def venue(self) -> Venue:
        return self._inner.venue

    @property
    def responsive(self) -> bool:
        with self._lock:
            until = self._unresponsive_until
        return until is None or self._clock.now() >= until

    def _call(self, what: str, fn: Callable[[], None]) -> None:
        if not self.responsive:
            raise VenueNotSentError(f"{self.venue}: {what} not sent, the venue timed out recently")
        future: Future[None] = self._pool.submit(fn)
        try:
            future.result(timeout=self._timeout)
        except FutureTimeout:
            with self._lock:
                self._unresponsive_until = self._clock.now() + self._cool_off
            raise VenueUnavailableError(
                f"{self.venue}: {what} got no answer within {self._timeout:g}s; outcome unknown"
            ) from None

    def submit(self, order: Order) -> None:
        self._call(f"submit {order.client_order_id}", lambda: self._inner.submit(order))

    def cancel(self, order: Order) -> None:
        self._call(f"cancel {order.client_order_id}", lambda: self._inner.cancel(order))

    def modify(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        self._call(
            f"modify {order.client_order_id}",
            lambda: self._inner.modify(order, quantity, price, trigger_price),
        )

    def drain(self) -> list[OrderEvent]:
        return self._inner.drain()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
