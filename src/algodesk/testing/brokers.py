"""Venue doubles: a broker that hangs on the calls it is told to, until released."""

from __future__ import annotations

import threading

from algodesk.domain.events import OrderEvent
from algodesk.domain.identifiers import Venue
from algodesk.domain.orders import Order
from algodesk.domain.values import Price, Quantity
from algodesk.ports.broker import BrokerPort

__all__ = ["HangingBroker"]


class HangingBroker:
    """Passes requests to ``inner``, except that the methods named in ``hang`` block until
    :meth:`release` (as a venue whose connection stalls)."""

    def __init__(self, inner: BrokerPort, hang: set[str] | None = None) -> None:
        self._inner = inner
        self.hang: set[str] = hang or set()
        self._released = threading.Event()
        self.calls: list[str] = []

    @property
    def venue(self) -> Venue:
        return self._inner.venue

    def release(self) -> None:
        self._released.set()

    def _maybe_hang(self, name: str) -> None:
        self.calls.append(name)
        if name in self.hang:
            self._released.wait(timeout=60)

    def submit(self, order: Order) -> None:
        self._maybe_hang("submit")
        self._inner.submit(order)

    def cancel(self, order: Order) -> None:
        self._maybe_hang("cancel")
        self._inner.cancel(order)

    def modify(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        self._maybe_hang("modify")
        self._inner.modify(order, quantity, price, trigger_price)

    def drain(self) -> list[OrderEvent]:
        return self._inner.drain()
