"""The read side of the API: orders, fills, positions, balances, ledger entries and alerts as
JSON values (money as decimal strings, times as ISO 8601 in UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from algodesk.domain.fills import Fill
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.orders import Order
from algodesk.domain.portfolio import BookSummary
from algodesk.ports.inbox import InboxEntry
from algodesk.ports.market import MarketView
from algodesk.ports.signals import AlertParser
from algodesk.ports.storage import UnitOfWork
from algodesk.services.ledger import LedgerService

__all__ = ["Queries", "iso"]

Json = dict[str, object]


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_json(o: Order) -> Json:
    return {
        "client_order_id": o.client_order_id.value,
        "account": o.account_id.value,
        "bot": o.bot_id.value if o.bot_id else None,
        "instrument": o.instrument_id.value,
        "side": o.side.value,
        "order_type": o.order_type.value,
        "time_in_force": o.time_in_force.value,
        "quantity": str(o.quantity.value),
        "price": _num(o.price.value if o.price else None),
        "trigger_price": _num(o.trigger_price.value if o.trigger_price else None),
        "reduce_only": o.reduce_only,
        "status": o.status.value,
        "filled_quantity": str(o.filled_quantity.value),
        "avg_fill_price": _num(o.avg_fill_price.value if o.avg_fill_price else None),
        "reason": o.last_reason,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
    }


def fill_json(f: Fill) -> Json:
    return {
        "account": f.account_id.value,
        "client_order_id": f.client_order_id.value,
        "bot": f.bot_id.value if f.bot_id else None,
        "instrument": f.instrument_id.value,
        "venue": f.venue.value,
        "trade_id": f.trade_id.value,
        "side": f.side.value,
        "quantity": str(f.quantity.value),
        "price": str(f.price.value),
        "fee": str(f.fee.amount),
        "fee_currency": f.fee.currency.code,
        "ts": iso(f.ts),
    }


def entry_json(e: LedgerEntry) -> Json:
    return {
        "account": e.account_id.value,
        "seq": e.seq,
        "entry_id": e.entry_id.value,
        "kind": str(e.kind),
        "ts": iso(e.ts),
        "bot": e.bot_id.value if e.bot_id else None,
        "postings": [
            {
                "book": p.book,
                "currency": p.currency.code,
                "amount": str(p.amount),
                "bot": p.bot_id.value if p.bot_id else None,
            }
            for p in e.postings
        ],
        "details": dict(e.details),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


class Queries:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ledger: LedgerService,
        market: MarketView,
        parser: AlertParser,
    ) -> None:
        self._uow_factory = uow_factory
        self._ledger = ledger
        self._market = market
        self._parser = parser

    def accounts(self) -> list[str]:
        return [a.value for a in self._ledger.accounts()]

    def orders(
        self, account: AccountId | None, open_only: bool = False, limit: int = 200
    ) -> list[Json]:
        with self._uow_factory() as uow:
            found = uow.orders.latest(limit, account, open_only=open_only)
        return [order_json(o) for o in found]

    def order(self, coid: ClientOrderId) -> Json | None:
        with self._uow_factory() as uow:
            found = uow.orders.get(coid)
        return order_json(found) if found is not None else None

    def fills(self, account: AccountId | None, limit: int = 200) -> list[Json]:
        with self._uow_factory() as uow:
            found = uow.fills.latest(limit, account)
        return [fill_json(f) for f in found]

    def entries(self, account: AccountId | None, limit: int = 200) -> list[Json]:
        return [entry_json(e) for e in self._ledger.latest(limit, account)]

    def summary(self, account: AccountId, bot: BotId | None = None) -> Json:
        """Balances at marks: cash, equity, realized (net of fees), unrealized, positions."""
        book: BookSummary = (
            self._ledger.summary(account, bot) if bot is not None else self._ledger.summary(account)
        )
        marks: dict[InstrumentId, Decimal] = {}
        positions = []
        for pos in book.open_positions:
            mark = self._market.mark(pos.instrument_id)
            px = mark.price if mark is not None else None
            if px is not None:
                marks[pos.instrument_id] = px
            value = pos.market_value(px) if px is not None else None
            unrealized = pos.unrealized(px) if px is not None else None
            positions.append(
                {
                    "instrument": pos.instrument_id.value,
                    "currency": pos.currency,
                    "quantity": str(pos.quantity),
                    "average_price": _num(pos.average_price),
                    "mark": _num(px),
                    "market_value": _num(value),
                    "unrealized": _num(unrealized),
                }
            )
        priced = len(marks) == len(book.open_positions)
        equity = book.equity(marks) if priced else None
        return {
            "account": account.value,
            "bot": bot.value if bot else None,
            "cash": {k: str(v) for k, v in book.cash.items()},
            "equity": {k: str(v) for k, v in equity.items()} if equity is not None else None,
            "realized": {c: str(book.realized_net(c)) for c in book.currencies},
            "fees": {k: str(v) for k, v in book.fees.items()},
            "positions": positions,
            "entries": book.entries,
        }

    def verify(self) -> Json:
        report = self._ledger.verify()
        return {
            "ok": report.ok,
            "entries": report.entries,
            "accounts": report.accounts,
            "problems": [
                {
                    "account": p.account_id.value,
                    "seq": p.seq,
                    "entry_id": p.entry_id,
                    "code": p.code,
                    "message": p.message,
                }
                for p in report.problems
            ],
        }

    def alert_json(self, entry: InboxEntry, secret_field: str) -> Json:
        """``secret_field``: the hook's body-secret field, masked with the known secret names."""
        return {
            "id": entry.id,
            "hook": entry.hook_id,
            "account": entry.account_id.value,
            "bot": entry.bot_id.value,
            "received_at": iso(entry.received_at),
            "status": entry.status.value,
            "reason": entry.reason,
            "message": entry.message,
            "fate": dict(entry.fate),
            "settled_at": iso(entry.settled_at),
            "duplicates": entry.duplicates,
            "remote_addr": entry.remote_addr,
            # Shown with every secret masked, never as received.
            "body": self._parser.redact(entry.body, secret_field=secret_field),
        }
