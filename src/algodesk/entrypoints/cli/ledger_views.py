"""Rich tables for `algodesk ledger show`."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from algodesk.domain.identifiers import AccountId
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.portfolio import BookSummary
from algodesk.domain.values import canonical_decimal
from algodesk.services.ledger import LedgerService

__all__ = ["show"]


def _fmt(value: Decimal) -> str:
    return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else canonical_decimal(value)


def _describe(entry: LedgerEntry) -> str:
    d = entry.details
    if entry.kind == "FILL":
        return f"{d['side']} {d['quantity']} {d['instrument']} @ {d['price']} (fee {d['fee']})"
    return d.get("memo", "")


def _entries_table(account_id: AccountId, entries: list[LedgerEntry], total: int) -> Table:
    table = Table(
        title=f"{account_id}: last {len(entries)} of {total} entries", title_justify="left"
    )
    for col in ("#", "time (UTC)", "kind", "bot", "what", "cash"):
        table.add_column(col, justify="right" if col in ("#", "cash") else "left")
    for e in entries:
        table.add_row(
            str(e.seq),
            e.ts.strftime("%Y-%m-%d %H:%M:%S"),
            e.kind.value,
            e.bot_id.value if e.bot_id else "",
            _describe(e),
            _cash(e),
        )
    return table


def _cash(entry: LedgerEntry) -> str:
    """The entry's cash movement: a number in one currency, else each currency's, named (a
    fee in BNB on a USD trade is not 0.5 more dollars)."""
    moved: dict[str, Decimal] = {}
    for p in entry.postings:
        if p.book == "cash":
            moved[p.currency.code] = moved.get(p.currency.code, Decimal(0)) + p.amount
    if len(moved) <= 1:
        return _fmt(next(iter(moved.values()), Decimal(0)))
    return ", ".join(f"{_fmt(amount)} {ccy}" for ccy, amount in moved.items())


def _summary_table(account_id: AccountId, summary: BookSummary) -> Table:
    marks = summary.last_prices()
    unrealized = summary.unrealized(marks)
    equity = summary.equity(marks)
    table = Table(title=f"{account_id}: balances", title_justify="left")
    table.add_column("currency")
    for col in ("cash", "realized", "fees", "realized net", "unrealized*", "equity*"):
        table.add_column(col, justify="right")
    zero = Decimal(0)
    for ccy in summary.currencies:
        table.add_row(
            ccy,
            _fmt(summary.cash.get(ccy, zero)),
            _fmt(summary.realized.get(ccy, zero)),
            _fmt(summary.fees.get(ccy, zero)),
            _fmt(summary.realized_net(ccy)),
            _fmt(unrealized.get(ccy, zero)),
            _fmt(equity.get(ccy, zero)),
        )
    return table


def _positions_table(summary: BookSummary) -> Table | None:
    open_positions = summary.open_positions
    if not open_positions:
        return None
    table = Table(title="open positions", title_justify="left")
    for col in ("instrument", "quantity", "avg price", "last fill price*"):
        table.add_column(col, justify="left" if col == "instrument" else "right")
    for pos in open_positions:
        avg = pos.average_price
        table.add_row(
            pos.instrument_id.value,
            canonical_decimal(pos.quantity),
            _fmt(avg) if avg is not None else "",
            _fmt(pos.last_price),
        )
    return table


def show(ledger: LedgerService, account: str | None, limit: int) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    accounts = [AccountId(account)] if account else ledger.accounts()
    if not accounts:
        console.print("The ledger is empty.")
        return
    for account_id in accounts:
        entries = ledger.entries(account_id)
        if not entries:
            console.print(f"{account_id}: no entries.")
            continue
        console.print(_entries_table(account_id, entries[-limit:] if limit else [], len(entries)))
        summary = ledger.summary(account_id)
        console.print(_summary_table(account_id, summary))
        positions = _positions_table(summary)
        if positions is not None:
            console.print(positions)
    console.print(
        "* marked at the last fill price: no market data feed is connected yet.", style="dim"
    )
