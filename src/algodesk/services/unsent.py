"""Requests a venue was known to be down for, kept to be sent once it answers again.

A venue guard refuses requests for a while after one timed out (:class:`VenueNotSentError`):
they never left. What must still happen is kept here and sent again by the engine at its next
pump once the venue takes requests: a cancel (the kill switch's, a trader's: the order must
not work on), and a reduce-only order (a flatten's close, an exit: a position must not stay
open). A new entry refused so is rejected at once instead (``VENUE_UNAVAILABLE``): sent late,
it would trade at a price its signal never saw; a refused modify is rejected, and the order
keeps its terms. A kept reduce-only order that its book no longer holds enough for is
canceled unsent and replaced by one for what is left. Kept in memory: a restart loses what is
kept. The paper exchange's recovery sends its pending cancels and unacknowledged orders again;
for a remote venue nothing settles them yet (reconciliation with a remote venue's order book is
not built).
"""

from __future__ import annotations

import threading
from enum import StrEnum

from algodesk.domain.identifiers import AccountId, ClientOrderId
from algodesk.domain.orders import Order, OrderStatus

__all__ = ["Request", "Unsent"]


class Request(StrEnum):
    SUBMIT = "submit"
    CANCEL = "cancel"

    def wanted(self, order: Order) -> bool:
        """Whether the request is still to be sent for ``order`` as stored now."""
        if self is Request.SUBMIT:
            return order.status is OrderStatus.SUBMITTED
        return order.status.is_open and order.cancel_pending


class Unsent:
    """The requests to send again, by order, in the order they were refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[ClientOrderId, tuple[AccountId, Request]] = {}

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, account_id: AccountId, coid: ClientOrderId, request: Request) -> None:
        with self._lock:
            self._items[coid] = (account_id, request)

    def holds(self, coid: ClientOrderId, request: Request) -> bool:
        with self._lock:
            return self._items.get(coid, (None, None))[1] is request

    def claim(
        self, coid: ClientOrderId, request: Request, account_id: AccountId | None = None
    ) -> bool:
        """Take ``request`` for ``coid`` (of ``account_id``, when given) out to send or settle
        it: True for one caller only (two pumps at once never send it twice); :meth:`add` it
        back if it cannot go yet."""
        with self._lock:
            account, kept = self._items.get(coid, (None, None))
            if kept is not request or account_id not in (None, account):
                return False
            del self._items[coid]
            return True

    def items(self) -> list[tuple[ClientOrderId, AccountId, Request]]:
        with self._lock:
            return [(coid, account, request) for coid, (account, request) in self._items.items()]
