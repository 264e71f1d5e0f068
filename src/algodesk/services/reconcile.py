"""Reconciliation: do our records agree with each other and with the venues?

``ledger verify`` proves the ledger was not altered (its chain, balances and FIFO booking). This
checks what verify cannot see, and reports every difference without changing anything:

* **fills and the ledger**: every stored fill has its FILL entry, of the same order,
  instrument, bot, side, quantity, price and fee (amount and currency), and every FILL entry
  has its stored fill;
* **orders and fills**: each order's filled quantity is the sum of its stored fills;
* **orders and the venue**: the venue's working orders are the orders we hold working there,
  with the same quantity left to fill and the same prices (for a venue that can list them: the
  paper exchange, :class:`~algodesk.ports.broker.WorkingOrders`). An answer may be on its way
  (an order sent but unanswered, a fill the engine has not applied yet), so a difference with
  a venue is checked again after a short wait, and only one that stays is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, ClientOrderId, Venue
from algodesk.domain.ledger.booking import fill_entry_id
from algodesk.domain.ledger.entries import EntryKind, LedgerEntry
from algodesk.domain.orders import Order
from algodesk.ports.broker import BrokerPort, WorkingOrders
from algodesk.ports.storage import UnitOfWork

__all__ = ["Difference", "Reconciliation", "reconcile"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement: ``kind`` is a stable code, ``subject`` the order or entry it is about."""

    kind: str
    account: AccountId
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    differences: list[Difference]
    fills: int
    orders: int
    venue_orders: dict[Venue, int] = field(default_factory=dict)
    venues_not_listed: list[Venue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def reconcile(
    uow_factory: Callable[[], UnitOfWork],
    brokers: Mapping[Venue, BrokerPort],
    settle: Callable[[], object] = lambda: None,
    recheck_after: float = 0.2,
) -> Reconciliation:
    """Compare storage with itself and with the venues that list their working orders.
    ``settle`` is called before each comparison with the venues (the engine's pump: it applies
    what the venues reported); a difference with a venue is reported only when it is still
    there ``recheck_after`` seconds later (an answer may be on its way)."""
    with uow_factory() as uow:
        fills = uow.fills.list()
        orders = uow.orders.list()
        entries = [e for e in uow.ledger.entries() if e.kind is EntryKind.FILL]
    differences = [*_fills_and_ledger(fills, entries), *_orders_and_fills(orders)]
    listed = {v: b for v, b in brokers.items() if isinstance(b, WorkingOrders)}
    counts: dict[Venue, int] = {}
    if listed:
        settle()
        first = _with_venues(uow_factory, listed, counts)
        if first:
            time.sleep(recheck_after)
            settle()
            again = {(d.kind, d.subject) for d in first}
            later = _with_venues(uow_factory, listed, counts)
            first = [d for d in later if (d.kind, d.subject) in again]
        differences += first
    return Reconciliation(
        differences=differences,
        fills=len(fills),
        orders=len(orders),
        venue_orders=counts,
        venues_not_listed=sorted((v for v in brokers if v not in listed), key=str),
    )


def _fills_and_ledger(fills: list[Fill], entries: list[LedgerEntry]) -> Iterable[Difference]:
    by_id = {(e.account_id, e.entry_id): e for e in entries}
    seen: set[tuple[AccountId, object]] = set()
    for fill in fills:
        key = (fill.account_id, fill_entry_id(fill))
        seen.add(key)
        entry = by_id.get(key)
        subject = f"{fill.venue}:{fill.trade_id}"
        if entry is None:
            yield Difference(
                "FILL_NOT_BOOKED",
                fill.account_id,
                subject,
                f"fill {subject} of order {fill.client_order_id} has no ledger entry",
            )
            continue
        booked = {**entry.details, "bot": entry.bot_id.value if entry.bot_id else "(none)"}
        stored = {
            "client_order_id": fill.client_order_id.value,
            "instrument": fill.instrument_id.value,
            "bot": fill.bot_id.value if fill.bot_id else "(none)",
            "side": fill.side.value,
            "quantity": fill.quantity.value,
            "price": fill.price.value,
            "fee": fill.fee.amount,
            "fee_currency": fill.fee.currency.code,
        }
        for name, value in stored.items():
            text = booked.get(name)
            same = text == value if isinstance(value, str) else _number(text) == value
            if not same:
                yield Difference(
                    "FILL_BOOKED_DIFFERENTLY",
                    fill.account_id,
                    subject,
                    f"fill {subject}: {name} is {value} in the stored fill, {text} in ledger "
                    f"entry #{entry.seq}",
                )
    for key, entry in by_id.items():
        if key not in seen:
            yield Difference(
                "ENTRY_WITHOUT_FILL",
                entry.account_id,
                entry.entry_id.value,
                f"ledger entry #{entry.seq} ({entry.entry_id}) books a fill that is not stored",
            )


def _number(text: str | None) -> Decimal | None:
    """The number ``text`` holds; None for none, or for a NaN (never equal to anything)."""
    try:
        number = Decimal(text) if text is not None else None
    except ArithmeticError:
        return None
    return None if number is None or number.is_nan() else number


def _orders_and_fills(orders: list[Order]) -> Iterable[Difference]:
    for order in orders:
        total = sum((f.quantity.value for f in order.fills.values()), Decimal(0))
        if total != order.filled_quantity.value:
            yield Difference(
                "FILLED_QUANTITY_DIFFERS",
                order.account_id,
                order.client_order_id.value,
                f"order {order.client_order_id} says {order.filled_quantity} filled, its "
                f"stored fills come to {total}",
            )


def _with_venues(
    uow_factory: Callable[[], UnitOfWork],
    brokers: Mapping[Venue, WorkingOrders],
    counts: dict[Venue, int],
) -> list[Difference]:
    with uow_factory() as uow:
        held = {
            o.client_order_id: o
            for o in uow.orders.list(open_only=True)
            if o.instrument_id.venue in brokers
        }
    differences: list[Difference] = []
    for venue, broker in brokers.items():
        working = {o.client_order_id: o for o in broker.working_orders}
        counts[venue] = len(working)
        ours = {c: o for c, o in held.items() if o.instrument_id.venue == venue}
        differences += _orders_and_venue(venue, ours, working)
    return differences


def _orders_and_venue(
    venue: Venue, ours: dict[ClientOrderId, Order], working: dict[ClientOrderId, Order]
) -> Iterable[Difference]:
    for coid, order in ours.items():
        there = working.get(coid)
        if there is None:
            yield Difference(
                "NOT_WORKING_AT_VENUE",
                order.account_id,
                coid.value,
                f"order {coid} is {order.status} here, {venue} has no such working order",
            )
            continue
        for name, here_value, venue_value in (
            ("quantity left", order.leaves_quantity, there.leaves_quantity),
            ("price", order.price, there.price),
            ("trigger price", order.trigger_price, there.trigger_price),
        ):
            if here_value != venue_value:
                yield Difference(
                    "ORDER_DIFFERS_AT_VENUE",
                    order.account_id,
                    coid.value,
                    f"order {coid}: {name} is {here_value} here, {venue_value} at {venue}",
                )
    for coid, there in working.items():
        if coid not in ours:
            yield Difference(
                "UNKNOWN_AT_VENUE",
                there.account_id,
                coid.value,
                f"{venue} works order {coid}, which is not open here",
            )
