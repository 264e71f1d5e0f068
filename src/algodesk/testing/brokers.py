"""Venue doubles around a real venue (usually the paper exchange): one that only forwards (so
the paper exchange looks like a remote venue: it has no ``submit_now``), one that hangs on the
calls it is told to until released, one that refuses them. Everything else passes through."""

from __future__ import annotations

import threading

from algodesk.domain.events import OrderEvent
from algodesk.domain.identifiers import Venue
from algodesk.domain.orders import Order
from algodesk.domain.values import Price, Quantity
from algodesk.ports.broker import BrokerPort, VenueRejectedError

__all__ = ["ForwardingBroker", "HangingBroker", "RefusingBroker"]


class ForwardingBroker:
    """Passes every request to ``inner`` after :meth:`_before` has had its say (it notes the
    call's name in ``calls``; ``done`` notes the calls ``inner`` has returned from); only the
    broker port, so an in-process venue behind it looks remote."""

    def __init__(self, inner: BrokerPort, calls: set[str] | None = None) -> None:
        self._inner = inner
        self.targets: set[str] = calls or set()
        self.calls: list[str] = []
        self.done: list[str] = []

    @property
    def venue(self) -> Venue:
        return self._inner.venue

    def _before(self, name: str) -> None:
        self.calls.append(name)

    def submit(self, order: Order) -> None:
        self._before("submit")
        self._inner.submit(order)
        self.done.append("submit")

    def cancel(self, order: Order) -> None:
        self._before("cancel")
        self._inner.cancel(order)
        self.done.append("cancel")

    def modify(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        self._before("modify")
        self._inner.modify(order, quantity, price, trigger_price)
        self.done.append("modify")

    def drain(self) -> list[OrderEvent]:
        return self._inner.drain()


class HangingBroker(ForwardingBroker):
    """The methods named in ``hang`` block until :meth:`release` (a stalled connection)."""

    def __init__(self, inner: BrokerPort, hang: set[str] | None = None) -> None:
        super().__init__(inner, hang)
        self._released = threading.Event()

    @property
    def hang(self) -> set[str]:
        return self.targets

    @hang.setter
    def hang(self, names: set[str]) -> None:
        self.targets = names

    def release(self) -> None:
        self._released.set()

    def rearm(self) -> None:
        """Hang again, after :meth:`release`, the calls named in ``hang``."""
        self._released.clear()

    def _before(self, name: str) -> None:
        super()._before(name)
        if name in self.targets:
            self._released.wait(timeout=60)


class RefusingBroker(ForwardingBroker):
    """The methods named in ``refuse`` (default: submit) are refused definitively."""

    def __init__(
        self, inner: BrokerPort, refuse: set[str] | None = None, reason: str = "refused by venue"
    ) -> None:
        super().__init__(inner, refuse or {"submit"})
        self.reason = reason

    def _before(self, name: str) -> None:
        super()._before(name)
        if name in self.targets:
            raise VenueRejectedError(self.reason)
