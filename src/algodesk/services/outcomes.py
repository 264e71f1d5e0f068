"""What the engine answers and what it journals: outcomes and event payloads."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from algodesk.domain.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
)

__all__ = ["Outcome", "event_payload"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a command. ``code`` is a stable reason when ``ok`` is False."""

    ok: bool
    client_order_id: str | None = None
    status: str | None = None
    code: str | None = None
    message: str = ""
    replayed: bool = False

    def payload(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("replayed")
        return data


def event_payload(event: OrderEvent) -> dict[str, object]:
    data: dict[str, object] = {"type": type(event).__name__, "coid": event.client_order_id.value}
    if isinstance(event, OrderFilled):
        f = event.fill
        data.update(trade=f.trade_id.value, qty=str(f.quantity), px=str(f.price), fee=str(f.fee))
    elif isinstance(event, OrderDenied):
        data.update(code=event.code, message=event.message)
    elif isinstance(event, OrderRejected | OrderCancelRejected | OrderModifyRejected):
        data.update(reason=event.reason)
    return data
