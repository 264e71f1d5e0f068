"""The venue port: the paper exchange and every real broker implement it.

Requests go out with :meth:`submit`, :meth:`cancel` and :meth:`modify`; what the venue reports
(accepted, triggered, filled, canceled, expired, rejected) comes back as order events from
:meth:`drain`, in the order it happened. A request never changes our order itself: only events
applied by the engine do. A call that fails definitively raises :class:`VenueRejectedError`; one
whose outcome is unknown (timeout, disconnect, 5xx) raises :class:`VenueUnavailableError` and
the order stays in flight.
"""

from __future__ import annotations

from typing import Protocol

from algodesk.domain.events import OrderEvent
from algodesk.domain.identifiers import Venue
from algodesk.domain.orders import Order
from algodesk.domain.values import Price, Quantity

__all__ = ["BrokerPort", "VenueError", "VenueRejectedError", "VenueUnavailableError"]


class VenueError(Exception):
    """Base class for venue failures."""


class VenueRejectedError(VenueError):
    """The venue refused the request, definitively (validation, auth, rate limit)."""


class VenueUnavailableError(VenueError):
    """The outcome is unknown: never resend a submit on this; reconcile."""


class BrokerPort(Protocol):
    @property
    def venue(self) -> Venue: ...

    def submit(self, order: Order) -> None: ...

    def cancel(self, order: Order) -> None: ...

    def modify(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None: ...

    def drain(self) -> list[OrderEvent]:
        """The events reported since the last drain, oldest first."""
        ...
