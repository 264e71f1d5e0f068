"""Read-side views of a ledger: cash, positions, realized and unrealized P&L, fees and equity,
for a whole account or for one bot. Pure functions over entries; marks are passed in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final

from algodesk.domain.identifiers import BotId, InstrumentId
from algodesk.domain.ledger.booking import FillTerms
from algodesk.domain.ledger.entries import (
    CAPITAL,
    CASH,
    FEES,
    PNL_REALIZED,
    EntryKind,
    LedgerEntry,
    position_book,
)
from algodesk.domain.values import exact_arithmetic, rounded

__all__ = ["ALL_BOTS", "AllBots", "BookSummary", "MissingMarkError", "PositionView", "summarize"]

_ZERO: Final = Decimal(0)


class AllBots:
    """Marker: the whole account, whichever bot a posting carries."""

    def __repr__(self) -> str:
        return "ALL_BOTS"


ALL_BOTS: Final = AllBots()


class MissingMarkError(KeyError):
    """An open position has no mark, so equity cannot be stated."""


@dataclass(slots=True)
class PositionView:
    instrument_id: InstrumentId
    currency: str
    multiplier: Decimal
    quantity: Decimal = _ZERO
    cost: Decimal = _ZERO  # signed cost of the open lots
    last_price: Decimal = _ZERO

    @property
    def average_price(self) -> Decimal | None:
        """Cost per unit of the open lots (a ratio, rounded to 34 digits)."""
        if self.quantity.is_zero():
            return None
        with rounded():
            return self.cost / (self.quantity * self.multiplier)

    @exact_arithmetic
    def market_value(self, mark: Decimal) -> Decimal:
        return self.quantity * mark * self.multiplier

    @exact_arithmetic
    def unrealized(self, mark: Decimal) -> Decimal:
        return self.market_value(mark) - self.cost


def _add(bucket: dict[str, Decimal], ccy: str, amount: Decimal) -> None:
    bucket[ccy] = bucket.get(ccy, _ZERO) + amount


@dataclass(slots=True)
class BookSummary:
    """Balances by currency. ``realized`` is gross of fees; see :meth:`realized_net`."""

    cash: dict[str, Decimal] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)
    capital: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[InstrumentId, PositionView] = field(default_factory=dict)
    entries: int = 0
    #: Cash allocated to this book from the account's (a bot's; nets to 0 for the account).
    allocated: dict[str, Decimal] = field(default_factory=dict)

    def contributed(self, ccy: str) -> Decimal:
        """Money put into this book from outside its trading, in ``ccy``: deposits less
        withdrawals and, for a bot, allocations less returns. A change of it is not a gain or
        a loss (the breakers move their peaks and day starts by it)."""
        return self.capital.get(ccy, _ZERO) + self.allocated.get(ccy, _ZERO)

    def copy(self) -> BookSummary:
        """An independent copy (to move on without changing this one)."""
        return BookSummary(
            dict(self.cash),
            dict(self.realized),
            dict(self.fees),
            dict(self.capital),
            {i: replace(p) for i, p in self.positions.items()},
            self.entries,
            dict(self.allocated),
        )

    @property
    def currencies(self) -> list[str]:
        found = set(self.cash) | set(self.realized) | set(self.fees) | set(self.capital)
        found |= {p.currency for p in self.positions.values()}
        return sorted(found)

    @property
    def open_positions(self) -> list[PositionView]:
        return [p for p in self.positions.values() if not p.quantity.is_zero()]

    @exact_arithmetic
    def realized_net(self, ccy: str) -> Decimal:
        return self.realized.get(ccy, _ZERO) - self.fees.get(ccy, _ZERO)

    def _mark(self, pos: PositionView, marks: Mapping[InstrumentId, Decimal]) -> Decimal:
        try:
            return marks[pos.instrument_id]
        except KeyError:
            raise MissingMarkError(f"no mark for open position {pos.instrument_id}") from None

    @exact_arithmetic
    def unrealized(self, marks: Mapping[InstrumentId, Decimal]) -> dict[str, Decimal]:
        """P&L of the open lots at ``marks``. An instrument that is net flat across bots but
        still has lots in them (one bot long, another short) contributes their locked-in P&L,
        which needs no mark."""
        out: dict[str, Decimal] = {}
        for pos in self.positions.values():
            if not pos.quantity.is_zero():
                _add(out, pos.currency, pos.unrealized(self._mark(pos, marks)))
            elif not pos.cost.is_zero():
                _add(out, pos.currency, -pos.cost)
        return out

    @exact_arithmetic
    def equity(self, marks: Mapping[InstrumentId, Decimal]) -> dict[str, Decimal]:
        """Cash plus every open position at its mark, per currency."""
        out = dict(self.cash)
        for pos in self.open_positions:
            _add(out, pos.currency, pos.market_value(self._mark(pos, marks)))
        return out

    @exact_arithmetic
    def add(self, entry: LedgerEntry, bot: BotId | AllBots | None = ALL_BOTS) -> None:
        """Move the summary past ``entry`` (only its postings for ``bot``)."""
        mine = [p for p in entry.postings if bot is ALL_BOTS or p.bot_id == bot]
        if not mine:
            return
        self.entries += 1
        for p in mine:
            ccy = p.currency.code
            if p.book == CASH:
                _add(self.cash, ccy, p.amount)
            elif p.book == PNL_REALIZED:
                _add(self.realized, ccy, -p.amount)
            elif p.book == FEES:
                _add(self.fees, ccy, p.amount)
            elif p.book == CAPITAL:
                _add(self.capital, ccy, -p.amount)
            if entry.kind is EntryKind.ALLOCATION and p.book == CASH:
                _add(self.allocated, ccy, p.amount)
        if entry.kind is EntryKind.FILL:
            terms = FillTerms.of(entry.details)
            iid = terms.instrument_id
            pos = self.positions.get(iid)
            if pos is None:
                pos = self.positions[iid] = PositionView(iid, terms.currency.code, terms.multiplier)
            pos.quantity += terms.quantity * terms.side.sign
            pos.last_price = terms.price
            book = position_book(iid)
            pos.cost += sum((p.amount for p in mine if p.book == book), _ZERO)

    def last_prices(self) -> dict[InstrumentId, Decimal]:
        """The last fill price of each instrument: a mark of last resort, to be labelled so."""
        return {i: p.last_price for i, p in self.positions.items()}


@exact_arithmetic
def summarize(
    entries: Iterable[LedgerEntry], bot: BotId | AllBots | None = ALL_BOTS
) -> BookSummary:
    """Summarize ``entries`` for the whole account (``ALL_BOTS``), one bot, or ``None``: the
    postings that carry no bot."""
    out = BookSummary()
    for entry in entries:
        out.add(entry, bot)
    return out
