"""The order aggregate and its explicit state table.

An order changes only by applying an :mod:`algodesk.domain.events` event. Which event may move an
order out of which state is written down once, in :data:`TRANSITIONS`; anything else raises
:class:`InvalidOrderTransition` and leaves the order untouched.

Rules beyond the table (from ``execution-rules.md`` §b):

* A fill whose ``(venue, trade_id)`` was seen before is dropped when it reports the same
  execution, and raises :class:`ConflictingFillError` when it reports different data.
* A fill that would exceed the order quantity raises :class:`OverfillError`.
* A fill that arrives after a cancel, an expiry or a rejection is booked (the money moved): the
  order becomes FILLED when nothing is left, otherwise it keeps its terminal state with the
  larger filled quantity. The engine alerts on such late fills.
* A rejected modify or cancel returns the order to the state it was in before the request.
  When the order has moved on meanwhile (a fill raced the cancel), the rejection changes nothing.
* A part fill of an order whose cancel or modify is pending makes it PARTIALLY_FILLED (a fill
  sets the state from the leaves quantity), and the request is still outstanding: the venue
  answers it next. It is kept in :attr:`Order.pending_from` as its pending state
  (:attr:`Order.outstanding`), until the venue cancels the order, rejects the request or
  confirms the modify; a restart sends such a cancel again.
* Venue messages race our requests. While a modify or cancel is pending, a late acceptance or
  trigger of the order changes the state the order returns to, not the pending state; a modify
  confirmed while a cancel is pending applies the new terms and the cancel stays pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from algodesk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from algodesk.domain.fills import Fill, OrderSide, require_utc
from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
    VenueOrderId,
)
from algodesk.domain.values import Price, Quantity, rounded

__all__ = [
    "TRANSITIONS",
    "ConflictingFillError",
    "InvalidOrderTransition",
    "Order",
    "OrderError",
    "OrderStatus",
    "OrderType",
    "OverfillError",
    "TimeInForce",
]


class OrderStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    TRIGGERED = "TRIGGERED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_UPDATE = "PENDING_UPDATE"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        """Working at the venue (or possibly so): counts toward exposure and open-order limits."""
        return self in _OPEN

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    DAY = "DAY"
    IOC = "IOC"
    GTC = "GTC"
    GTD = "GTD"


S = OrderStatus
_OPEN: Final = frozenset(
    {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.PENDING_UPDATE, S.PENDING_CANCEL}
)
_TERMINAL: Final = frozenset({S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED})
_PENDING: Final = frozenset({S.PENDING_UPDATE, S.PENDING_CANCEL})

#: For each event, the states it may be applied in. The resulting state is the event's own
#: (OrderAccepted → ACCEPTED, …) except where the module docstring says otherwise: fills go to
#: PARTIALLY_FILLED or FILLED by the quantity left, OrderUpdated and the two rejections of a
#: request return to the state before the request.
TRANSITIONS: Final[Mapping[type[OrderEvent], frozenset[OrderStatus]]] = {
    OrderDenied: frozenset({S.INITIALIZED}),
    OrderSubmitted: frozenset({S.INITIALIZED}),
    OrderAccepted: frozenset({S.SUBMITTED, S.PENDING_UPDATE, S.PENDING_CANCEL}),
    OrderRejected: frozenset(
        {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PENDING_UPDATE, S.PENDING_CANCEL}
    ),
    OrderTriggered: frozenset({S.ACCEPTED, S.PENDING_UPDATE, S.PENDING_CANCEL}),
    OrderPendingUpdate: frozenset(
        {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.PENDING_UPDATE}
    ),
    OrderPendingCancel: frozenset(
        {
            S.SUBMITTED,
            S.ACCEPTED,
            S.TRIGGERED,
            S.PARTIALLY_FILLED,
            S.PENDING_UPDATE,
            S.PENDING_CANCEL,
        }
    ),
    OrderUpdated: frozenset(
        {S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.PENDING_UPDATE, S.PENDING_CANCEL}
    ),
    # A rejected request restores the earlier state from PENDING_*; in the states a race can have
    # moved the order to meanwhile, it is recorded and changes nothing.
    OrderModifyRejected: frozenset(
        {S.PENDING_UPDATE, S.PENDING_CANCEL, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
    ),
    OrderCancelRejected: frozenset(
        {S.PENDING_CANCEL, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
    ),
    OrderCanceled: frozenset(
        {
            S.SUBMITTED,
            S.ACCEPTED,
            S.TRIGGERED,
            S.PARTIALLY_FILLED,
            S.PENDING_UPDATE,
            S.PENDING_CANCEL,
        }
    ),
    OrderExpired: frozenset(
        {S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.PENDING_UPDATE, S.PENDING_CANCEL}
    ),
    OrderFilled: frozenset(
        {
            S.SUBMITTED,
            S.ACCEPTED,
            S.TRIGGERED,
            S.PARTIALLY_FILLED,
            S.PENDING_UPDATE,
            S.PENDING_CANCEL,
            S.CANCELED,
            S.EXPIRED,
            S.REJECTED,
        }
    ),
}


class OrderError(Exception):
    """Base class for order rule violations."""


class InvalidOrderTransition(OrderError):
    """The event is not allowed in the order's current state."""


class OverfillError(OrderError):
    """A fill would take the filled quantity past the order quantity."""


class ConflictingFillError(OrderError):
    """A fill reused a known ``(venue, trade_id)`` with different data: an incident, not a dupe."""


_new_order: Final = object.__new__

_SIMPLE_TARGETS: Final[Mapping[type[OrderEvent], OrderStatus]] = {
    OrderDenied: S.DENIED,
    OrderSubmitted: S.SUBMITTED,
    OrderAccepted: S.ACCEPTED,
    OrderRejected: S.REJECTED,
    OrderTriggered: S.TRIGGERED,
    OrderCanceled: S.CANCELED,
    OrderExpired: S.EXPIRED,
}


@dataclass(slots=True, eq=False)
class Order:
    """One order, from creation to a terminal state.

    Build with :meth:`create`; rebuild from storage with :meth:`restore`; change only through
    :meth:`apply`.
    """

    client_order_id: ClientOrderId
    account_id: AccountId
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    time_in_force: TimeInForce
    created_at: datetime
    price: Price | None = None
    trigger_price: Price | None = None
    expire_time: datetime | None = None
    bot_id: BotId | None = None
    reduce_only: bool = False
    status: OrderStatus = S.INITIALIZED
    filled_quantity: Quantity = field(default_factory=lambda: Quantity(Decimal(0)))
    avg_fill_price: Price | None = None
    venue_order_ids: list[VenueOrderId] = field(default_factory=list)
    fills: dict[tuple[Venue, TradeId], Fill] = field(default_factory=dict)
    pending_from: list[OrderStatus] = field(default_factory=list)
    last_reason: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        client_order_id: ClientOrderId,
        account_id: AccountId,
        instrument_id: InstrumentId,
        side: OrderSide,
        order_type: OrderType,
        quantity: Quantity,
        created_at: datetime,
        time_in_force: TimeInForce = TimeInForce.DAY,
        price: Price | None = None,
        trigger_price: Price | None = None,
        expire_time: datetime | None = None,
        bot_id: BotId | None = None,
        reduce_only: bool = False,
    ) -> Order:
        """A new order in INITIALIZED, checked for a consistent shape."""
        order = cls(
            client_order_id=client_order_id,
            account_id=account_id,
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            time_in_force=time_in_force,
            created_at=created_at,
            price=price,
            trigger_price=trigger_price,
            expire_time=expire_time,
            bot_id=bot_id,
            reduce_only=reduce_only,
        )
        order._check_shape()
        return order

    @classmethod
    def restore(cls, *, fills: Iterable[Fill] = (), **state: object) -> Order:
        """Rebuild an order from stored state (the storage adapters' path back in)."""
        order = cls(**state)  # type: ignore[arg-type]
        for fill in fills:
            order.fills[fill.key] = fill
        order._check_shape()
        return order

    def _check_shape(self) -> None:
        require_utc("Order.created_at", self.created_at)
        coid = self.client_order_id
        if self.quantity.is_zero():
            raise ValueError(f"order {coid}: expected a quantity > 0, was 0")
        needs_price = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_trigger = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_price != (self.price is not None):
            expected = "a limit price" if needs_price else "no limit price"
            raise ValueError(f"order {coid}: a {self.order_type} order takes {expected}")
        if needs_trigger != (self.trigger_price is not None):
            expected = "a trigger price" if needs_trigger else "no trigger price"
            raise ValueError(f"order {coid}: a {self.order_type} order takes {expected}")
        if (self.time_in_force is TimeInForce.GTD) != (self.expire_time is not None):
            raise ValueError(f"order {coid}: an expire_time goes with GTD and only with GTD")
        if self.expire_time is not None:
            require_utc("Order.expire_time", self.expire_time)

    def clone(self) -> Order:
        """An independent copy: what ``copy.deepcopy`` gives, without its cost. Every field but
        the three containers holds an immutable value, so only those are copied."""
        twin = _new_order(Order)
        twin.client_order_id = self.client_order_id
        twin.account_id = self.account_id
        twin.instrument_id = self.instrument_id
        twin.side = self.side
        twin.order_type = self.order_type
        twin.quantity = self.quantity
        twin.time_in_force = self.time_in_force
        twin.created_at = self.created_at
        twin.price = self.price
        twin.trigger_price = self.trigger_price
        twin.expire_time = self.expire_time
        twin.bot_id = self.bot_id
        twin.reduce_only = self.reduce_only
        twin.status = self.status
        twin.filled_quantity = self.filled_quantity
        twin.avg_fill_price = self.avg_fill_price
        twin.venue_order_ids = list(self.venue_order_ids)
        twin.fills = dict(self.fills)
        twin.pending_from = list(self.pending_from)
        twin.last_reason = self.last_reason
        twin.updated_at = self.updated_at
        return twin

    def __deepcopy__(self, memo: dict[int, object]) -> Order:
        return self.clone()

    @property
    def leaves_quantity(self) -> Quantity:
        if self.status in (S.DENIED, S.REJECTED, S.CANCELED, S.EXPIRED):
            return Quantity(Decimal(0))
        return self.quantity - self.filled_quantity

    @property
    def outstanding(self) -> list[OrderStatus]:
        """The requests (PENDING_UPDATE, PENDING_CANCEL) the venue has not answered yet: the
        pending state, and those a fill moved the order on from."""
        pending = [s for s in self.pending_from if s in _PENDING]
        if self.status in _PENDING and self.status not in pending:
            pending.append(self.status)
        return pending

    @property
    def cancel_pending(self) -> bool:
        """A cancel of the order is on its way (pending, or outstanding past a part fill)."""
        return S.PENDING_CANCEL in self.outstanding

    @property
    def venue_order_id(self) -> VenueOrderId | None:
        return self.venue_order_ids[-1] if self.venue_order_ids else None

    def allowed_events(self) -> list[str]:
        return sorted(e.__name__ for e, states in TRANSITIONS.items() if self.status in states)

    def apply(self, event: OrderEvent) -> bool:
        """Apply ``event``. Returns False when it was an exact replay of a known fill.

        Raises:
            InvalidOrderTransition: the event is not allowed in the current state.
            OverfillError, ConflictingFillError: see the module docstring.
        """
        if event.client_order_id != self.client_order_id:
            raise InvalidOrderTransition(
                f"order {self.client_order_id}: event is for order {event.client_order_id}"
            )
        if isinstance(event, OrderFilled) and self._is_replay(event.fill):
            return False
        kind = type(event)
        allowed = TRANSITIONS.get(kind, frozenset())
        if self.status not in allowed:
            raise InvalidOrderTransition(
                f"order {self.client_order_id}: {kind.__name__} is not allowed in state "
                f"{self.status}; expected one of {', '.join(self.allowed_events()) or 'none'}"
            )
        self._transition(event)
        self.updated_at = event.ts
        return True

    def _transition(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            self._apply_fill(event.fill)
        elif isinstance(event, OrderPendingUpdate | OrderPendingCancel):
            target = S.PENDING_UPDATE if isinstance(event, OrderPendingUpdate) else S.PENDING_CANCEL
            if self.status != target:
                self.pending_from.append(self.status)
            self.status = target
        elif isinstance(event, OrderModifyRejected):
            self._reject_request(S.PENDING_UPDATE, event.reason)
        elif isinstance(event, OrderCancelRejected):
            self._reject_request(S.PENDING_CANCEL, event.reason)
        elif isinstance(event, OrderUpdated):
            self._apply_update(event)
        elif isinstance(event, OrderAccepted | OrderTriggered) and self.status in _PENDING:
            if isinstance(event, OrderAccepted):
                self._add_venue_order_id(event.venue_order_id)
            self._set_live_state(S.ACCEPTED if isinstance(event, OrderAccepted) else S.TRIGGERED)
        else:
            if isinstance(event, OrderAccepted):
                self._add_venue_order_id(event.venue_order_id)
            elif isinstance(event, OrderDenied):
                self.last_reason = f"{event.code}: {event.message}"
            elif isinstance(event, OrderRejected | OrderCanceled) and event.reason is not None:
                self.last_reason = event.reason
            self.status = _SIMPLE_TARGETS[type(event)]
            self.pending_from.clear()

    def _reject_request(self, pending: OrderStatus, reason: str) -> None:
        self.last_reason = reason
        if self.status == pending:
            self.status = self.pending_from.pop() if self.pending_from else S.ACCEPTED
        else:  # the order moved on (a fill raced the request): forget the request only
            self.pending_from = [s for s in self.pending_from if s != pending]

    def _set_live_state(self, live: OrderStatus) -> None:
        """A pending order's venue state moved on: return there when the request is rejected."""
        if live is S.ACCEPTED and S.TRIGGERED in self.pending_from:
            return  # a late acceptance does not undo a trigger
        self.pending_from = [s if s in _PENDING else live for s in self.pending_from]

    def _apply_update(self, event: OrderUpdated) -> None:
        new_qty = event.quantity or self.quantity
        if new_qty <= self.filled_quantity:
            raise OrderError(
                f"order {self.client_order_id}: modified quantity {new_qty} must exceed the "
                f"filled quantity {self.filled_quantity}"
            )
        self.quantity = new_qty
        if event.price is not None:
            self.price = event.price
        if event.trigger_price is not None:
            self.trigger_price = event.trigger_price
        if event.venue_order_id is not None:
            self._add_venue_order_id(event.venue_order_id)
        if self.status == S.PENDING_UPDATE:
            self.status = self.pending_from.pop() if self.pending_from else S.ACCEPTED
        else:  # confirmed while a cancel is pending: the modify is no longer outstanding
            self.pending_from = [s for s in self.pending_from if s != S.PENDING_UPDATE]

    def _add_venue_order_id(self, voi: VenueOrderId) -> None:
        if voi not in self.venue_order_ids:
            self.venue_order_ids.append(voi)

    def _is_replay(self, fill: Fill) -> bool:
        known = self.fills.get(fill.key)
        if known is None:
            return False
        if known.same_execution(fill):
            return True
        raise ConflictingFillError(
            f"order {self.client_order_id}: trade {fill.trade_id} at {fill.venue} was booked as "
            f"{known.side} {known.quantity} @ {known.price}, now reported as "
            f"{fill.side} {fill.quantity} @ {fill.price}"
        )

    def _apply_fill(self, fill: Fill) -> None:
        coid = self.client_order_id
        if fill.client_order_id != coid:
            raise OrderError(f"order {coid}: fill {fill.trade_id} is for {fill.client_order_id}")
        if fill.instrument_id != self.instrument_id or fill.side != self.side:
            raise OrderError(
                f"order {coid}: expected a {self.side} fill of {self.instrument_id}, was "
                f"{fill.side} {fill.instrument_id}"
            )
        total = self.filled_quantity + fill.quantity
        if total > self.quantity:
            raise OverfillError(
                f"order {coid}: fill {fill.trade_id} of {fill.quantity} would fill {total} of "
                f"{self.quantity}"
            )
        previous = self.avg_fill_price.value if self.avg_fill_price else Decimal(0)
        with rounded():  # an average is a ratio: 34 significant digits
            weighted = (
                previous * self.filled_quantity.value + fill.price.value * fill.quantity.value
            )
            self.avg_fill_price = Price(weighted / total.value)
        self.filled_quantity = total
        self.fills[fill.key] = fill
        if total == self.quantity:
            self.status = S.FILLED
            self.pending_from.clear()
        elif self.status not in (S.CANCELED, S.EXPIRED, S.REJECTED):
            # The requests still waiting for the venue stay on record (see the module's notes).
            self.pending_from = self.outstanding
            self.status = S.PARTIALLY_FILLED
        else:
            self.pending_from.clear()
