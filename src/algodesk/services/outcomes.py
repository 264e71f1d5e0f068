"""What the engine answers and what it journals: outcomes and event payloads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace

from algodesk.domain.commands import Command, SubmitOrder
from algodesk.domain.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
)
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import OrderStatus
from algodesk.ports.storage import JournalRecord, UnitOfWork

__all__ = ["Outcome", "event_payload", "fingerprint", "replay"]


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
        """What is journaled: every field but ``replayed`` (the fields' own order)."""
        return {
            "ok": self.ok,
            "client_order_id": self.client_order_id,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }


def event_payload(event: OrderEvent) -> dict[str, object]:
    data: dict[str, object] = {"type": type(event).__name__, "coid": event.client_order_id.value}
    if isinstance(event, OrderFilled):
        f = event.fill
        data.update(trade=f.trade_id.value, qty=str(f.quantity), px=str(f.price), fee=str(f.fee))
    elif isinstance(event, OrderDenied):
        data.update(code=event.code, message=event.message)
    elif (
        isinstance(event, OrderRejected | OrderCancelRejected | OrderModifyRejected | OrderCanceled)
        and event.reason is not None  # a cancel says why when the venue made it of its accord
    ):
        data.update(reason=event.reason)
    return data


def fingerprint(command: Command) -> str:
    """What a command asks, without its key: a key may only ever mean one command."""
    keyless = command if command.idempotency_key is None else _without_key(command)
    return hashlib.sha256(repr(keyless).encode()).hexdigest()[:32]


_FIELDS: dict[type[Command], tuple[str, ...]] = {}


def _without_key(command: Command) -> Command:
    """``replace(command, idempotency_key=None)`` without re-running the command's checks
    (its values were checked when it was made): the same fields, so the same repr."""
    kind = type(command)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    copy = object.__new__(kind)
    for name in names:
        object.__setattr__(copy, name, getattr(command, name))
    object.__setattr__(copy, "idempotency_key", None)
    return copy


def replay(uow: UnitOfWork, command: Command, seen: JournalRecord) -> Outcome:
    """The answer to a command whose key was seen: the first outcome, brought up to date with
    the order's state (a submit the venue rejected later says so). A key reused for a
    different command is refused."""
    if seen.kind != type(command).__name__ or seen.payload.get("fingerprint") != fingerprint(
        command
    ):
        return Outcome(
            False,
            None,
            None,
            "IDEMPOTENCY_KEY_REUSED",
            f"key={command.idempotency_key} was used for a different command ({seen.kind})",
        )
    first = Outcome(**dict(seen.payload["outcome"]))  # type: ignore[call-overload]
    if isinstance(command, SubmitOrder) and first.client_order_id and first.ok:
        order = uow.orders.get(ClientOrderId(first.client_order_id))
        if order is not None and order.status in (OrderStatus.REJECTED, OrderStatus.DENIED):
            reason = order.last_reason or ""
            status = order.status.value
            return Outcome(False, first.client_order_id, status, "VENUE_REJECTED", reason, True)
        if order is not None:
            return replace(first, status=order.status.value, replayed=True)
    return replace(first, replayed=True)
