"""Order events: what happened to an order, in the past tense. They drive the order state table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from algodesk.domain.fills import Fill, require_utc
from algodesk.domain.identifiers import ClientOrderId, VenueOrderId
from algodesk.domain.values import Price, Quantity

__all__ = [
    "ORDER_EVENT_TYPES",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderModifyRejected",
    "OrderPendingCancel",
    "OrderPendingUpdate",
    "OrderRejected",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderUpdated",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    client_order_id: ClientOrderId
    ts: datetime

    def __post_init__(self) -> None:
        if self.ts.__class__ is not datetime or self.ts.tzinfo is not UTC:  # else UTC for sure
            require_utc(f"{type(self).__name__}.ts", self.ts)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDenied(OrderEvent):
    """A gate refused the order before it left; ``code`` is stable, ``message`` has the numbers."""

    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted(OrderEvent):
    """The order was sent to the venue; its outcome is not known yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    venue_order_id: VenueOrderId


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(OrderEvent):
    """A definitive refusal by the venue."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered(OrderEvent):
    """A stop-limit's trigger was hit; it now rests as a limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingUpdate(OrderEvent):
    """A modify was sent; waiting for the venue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingCancel(OrderEvent):
    """A cancel was sent; waiting for the venue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdated(OrderEvent):
    """The venue confirmed a modify."""

    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None
    venue_order_id: VenueOrderId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderModifyRejected(OrderEvent):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelRejected(OrderEvent):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled(OrderEvent):
    """Canceled: on request, or by the venue itself, which then says why (``reason``: a
    reduce-only order with nothing left to reduce, say)."""

    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(OrderEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    fill: Fill


ORDER_EVENT_TYPES: tuple[type[OrderEvent], ...] = (
    OrderDenied,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderTriggered,
    OrderPendingUpdate,
    OrderPendingCancel,
    OrderUpdated,
    OrderModifyRejected,
    OrderCancelRejected,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
)
