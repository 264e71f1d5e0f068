"""Rows to domain objects and back, shared by the SQL repositories."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    LedgerEntryId,
    TradeId,
    Venue,
    VenueOrderId,
)
from algodesk.domain.ledger.entries import EntryKind, LedgerEntry, Posting
from algodesk.domain.orders import Order, OrderStatus, OrderType, TimeInForce
from algodesk.domain.values import Currency, Money, Price, Quantity

__all__ = [
    "entry_from_row",
    "entry_row",
    "fill_from_row",
    "fill_row",
    "order_from_row",
    "order_row",
    "posting_rows",
]


def _opt_bot(value: str | None) -> BotId | None:
    return BotId(value) if value else None


def entry_row(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "account_id": entry.account_id.value,
        "seq": entry.seq,
        "entry_id": entry.entry_id.value,
        "kind": entry.kind.value,
        "ts": entry.ts,
        "bot_id": entry.bot_id.value if entry.bot_id else None,
        "details": json.dumps(dict(entry.details), sort_keys=True, separators=(",", ":")),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def posting_rows(entry: LedgerEntry) -> list[dict[str, Any]]:
    return [
        {
            "account_id": entry.account_id.value,
            "seq": entry.seq,
            "idx": idx,
            "book": p.book,
            "currency": p.currency.code,
            "amount": p.amount,
            "bot_id": p.bot_id.value if p.bot_id else None,
        }
        for idx, p in enumerate(entry.postings)
    ]


def entry_from_row(row: Mapping[Any, Any], postings: Iterable[Mapping[Any, Any]]) -> LedgerEntry:
    return LedgerEntry(
        account_id=AccountId(row["account_id"]),
        seq=int(row["seq"]),
        entry_id=LedgerEntryId(row["entry_id"]),
        kind=EntryKind(row["kind"]),
        ts=row["ts"],
        postings=tuple(
            Posting(p["book"], Currency(p["currency"]), p["amount"], _opt_bot(p["bot_id"]))
            for p in postings
        ),
        bot_id=_opt_bot(row["bot_id"]),
        details=json.loads(row["details"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def fill_row(fill: Fill) -> dict[str, Any]:
    return {
        "venue": fill.venue.value,
        "trade_id": fill.trade_id.value,
        "account_id": fill.account_id.value,
        "client_order_id": fill.client_order_id.value,
        "instrument_id": fill.instrument_id.value,
        "side": fill.side.value,
        "quantity": fill.quantity.value,
        "price": fill.price.value,
        "fee": fill.fee.amount,
        "fee_currency": fill.fee.currency.code,
        "ts": fill.ts,
        "bot_id": fill.bot_id.value if fill.bot_id else None,
    }


def fill_from_row(row: Mapping[Any, Any]) -> Fill:
    return Fill(
        account_id=AccountId(row["account_id"]),
        client_order_id=ClientOrderId(row["client_order_id"]),
        instrument_id=InstrumentId(row["instrument_id"]),
        venue=Venue(row["venue"]),
        trade_id=TradeId(row["trade_id"]),
        side=OrderSide(row["side"]),
        quantity=Quantity(row["quantity"]),
        price=Price(row["price"]),
        fee=Money(row["fee"], Currency(row["fee_currency"])),
        ts=row["ts"],
        bot_id=_opt_bot(row["bot_id"]),
    )


def order_row(order: Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id.value,
        "account_id": order.account_id.value,
        "bot_id": order.bot_id.value if order.bot_id else None,
        "instrument_id": order.instrument_id.value,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "quantity": order.quantity.value,
        "price": order.price.value if order.price else None,
        "trigger_price": order.trigger_price.value if order.trigger_price else None,
        "expire_time": order.expire_time,
        "reduce_only": order.reduce_only,
        "status": order.status.value,
        "filled_quantity": order.filled_quantity.value,
        "avg_fill_price": order.avg_fill_price.value if order.avg_fill_price else None,
        "venue_order_ids": json.dumps([v.value for v in order.venue_order_ids]),
        "pending_from": json.dumps([s.value for s in order.pending_from]),
        "last_reason": order.last_reason,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def order_from_row(row: Mapping[Any, Any], fills: Sequence[Fill]) -> Order:
    return Order.restore(
        fills=fills,
        client_order_id=ClientOrderId(row["client_order_id"]),
        account_id=AccountId(row["account_id"]),
        bot_id=_opt_bot(row["bot_id"]),
        instrument_id=InstrumentId(row["instrument_id"]),
        side=OrderSide(row["side"]),
        order_type=OrderType(row["order_type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        quantity=Quantity(row["quantity"]),
        price=Price(row["price"]) if row["price"] is not None else None,
        trigger_price=Price(row["trigger_price"]) if row["trigger_price"] is not None else None,
        expire_time=row["expire_time"],
        reduce_only=bool(row["reduce_only"]),
        status=OrderStatus(row["status"]),
        filled_quantity=Quantity(row["filled_quantity"]),
        avg_fill_price=Price(row["avg_fill_price"]) if row["avg_fill_price"] is not None else None,
        venue_order_ids=[VenueOrderId(v) for v in json.loads(row["venue_order_ids"])],
        pending_from=[OrderStatus(s) for s in json.loads(row["pending_from"])],
        last_reason=row["last_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
