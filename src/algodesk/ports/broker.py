"""The venue port: the paper exchange and every real broker implement it.

Requests go out with :meth:`submit`, :meth:`cancel` and :meth:`modify`; what the venue reports
(accepted, triggered, filled, canceled, expired, rejected) comes back as order events from
:meth:`drain`, in the order it happened. A request never changes our order itself: only events
applied by the engine do. A call that fails definitively raises :class:`VenueRejectedError`; one
whose outcome is unknown (timeout, disconnect, 5xx) raises :class:`VenueUnavailableError` and
the order stays in flight. One known never to have left (the venue is known to be down) raises
:class:`VenueNotSentError`: nothing happened, and it may be sent again.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from algodesk.domain.events import OrderEvent
from algodesk.domain.identifiers import ClientOrderId, Venue
from algodesk.domain.orders import Order
from algodesk.domain.values import Price, Quantity

__all__ = [
    "BrokerPort",
    "InProcessVenue",
    "VenueError",
    "VenueNotSentError",
    "VenueRejectedError",
    "VenueUnavailableError",
    "WorkingOrders",
]


class VenueError(Exception):
    """Base class for venue failures."""


class VenueRejectedError(VenueError):
    """The venue refused the request, definitively (validation, auth, rate limit)."""


class VenueUnavailableError(VenueError):
    """The outcome is unknown: never resend a submit on this; reconcile."""


class VenueNotSentError(VenueUnavailableError):
    """The request was not sent: the venue is known to be unreachable now (a guard's cool-off
    after a timeout). Nothing reached the venue, so the request may be sent again once it
    answers; a caller that does not tell the two apart treats it as in flight."""


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


@runtime_checkable
class WorkingOrders(Protocol):
    """A venue that can list the orders working there (reconciliation compares them with
    ours)."""

    @property
    def working_orders(self) -> list[Order]: ...


@runtime_checkable
class InProcessVenue(BrokerPort, Protocol):
    """A venue that lives in this process and whose book is rebuilt from our storage at start
    (the paper exchange). It answers a submit at once, so the engine stores the order and the
    venue's answer (accepted, filled, booked) in one transaction instead of two: a crash before
    that commit loses the order on both sides together, since the venue's book dies with the
    process. Until the engine confirms the order stored, the venue does nothing more with it
    (a quote cannot fill an order the engine has not stored); if the engine's transaction
    fails, it withdraws the order, leaving the venue as if the submit had never come."""

    def submit_now(self, order: Order) -> list[OrderEvent]:
        """Submit ``order`` and return the events it caused, oldest first; they are not queued
        for :meth:`drain` (events from other requests are). :class:`VenueRejectedError` as for
        :meth:`submit`."""
        ...

    def confirm(self, client_order_id: ClientOrderId) -> None:
        """The order submitted with :meth:`submit_now` and its answer are stored: from now on
        the venue may act on it (until then quotes pass it by; if one did, it is matched now,
        its events queued for :meth:`drain`). Unknown ids are ignored."""
        ...

    def withdraw(self, client_order_id: ClientOrderId) -> None:
        """Forget an order submitted with :meth:`submit_now` whose answer could not be stored:
        no event, nothing of it left to drain. Unknown ids are ignored."""
        ...
