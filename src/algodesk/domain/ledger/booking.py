"""Booking: turn fills, deposits, withdrawals, allocations, fees and adjustments into entries.

:class:`AccountBook` is the running state of one account's ledger (its FIFO lots and its chain
head). It proposes entries without changing itself; once an entry is sealed and stored,
:meth:`AccountBook.replay` moves the state on. Loading from storage is the same replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, LedgerEntryId
from algodesk.domain.instruments import Instrument
from algodesk.domain.ledger.chain import GENESIS_HASH
from algodesk.domain.ledger.entries import (
    ADJUSTMENTS,
    CAPITAL,
    CASH,
    FEES,
    PNL_REALIZED,
    EntryKind,
    LedgerEntry,
    NewEntry,
    Posting,
    position_book,
)
from algodesk.domain.ledger.fifo import FifoBook
from algodesk.domain.values import Currency, Money, canonical_decimal, exact_arithmetic

__all__ = [
    "AccountBook",
    "FillTerms",
    "adjustment",
    "allocation",
    "deposit",
    "fee",
    "fill_entry_id",
    "withdrawal",
]


class FillTerms:
    """The fields of a FILL entry that booking and verification need, parsed from its details."""

    __slots__ = (
        "currency",
        "fee",
        "fee_currency",
        "instrument_id",
        "multiplier",
        "price",
        "quantity",
        "side",
    )

    def __init__(self, details: Mapping[str, str]) -> None:
        try:
            self.instrument_id = InstrumentId(details["instrument"])
            self.side = OrderSide(details["side"])
            self.quantity = Decimal(details["quantity"])
            self.price = Decimal(details["price"])
            self.multiplier = Decimal(details["multiplier"])
            self.currency = Currency(details["currency"])
            self.fee = Decimal(details["fee"])
            self.fee_currency = Currency(details["fee_currency"])
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"fill details are incomplete or malformed: {exc!r}") from None
        self._check()

    @classmethod
    def _written(cls, fill: Fill, instrument: Instrument, details: Mapping[str, str]) -> FillTerms:
        """What parsing ``details``, just written for ``fill`` by :meth:`AccountBook.fill_entry`,
        gives: the numbers read back from their text, the ids and currencies the text was
        written from (parsing their text gives equal ones)."""
        terms = cls.__new__(cls)
        terms.instrument_id = instrument.id
        terms.side = fill.side
        terms.quantity = Decimal(details["quantity"])
        terms.price = Decimal(details["price"])
        terms.multiplier = Decimal(details["multiplier"])
        terms.currency = instrument.currency
        terms.fee = Decimal(details["fee"])
        terms.fee_currency = fill.fee.currency
        terms._check()
        return terms

    def _check(self) -> None:
        numbers = (self.quantity, self.price, self.multiplier, self.fee)
        if not all(n.is_finite() for n in numbers):
            raise ValueError("fill details hold a number that is not finite")
        if self.quantity <= 0 or self.multiplier <= 0 or self.fee < 0:
            raise ValueError(
                f"fill details out of range: quantity {self.quantity}, multiplier "
                f"{self.multiplier}, fee {self.fee}"
            )

    @classmethod
    def of(cls, details: Mapping[str, str]) -> FillTerms:
        """The terms of a FILL entry's ``details``. An entry's frozen details (a read-only
        view of a private copy, see :class:`NewEntry`) never change, so their terms are
        parsed once and remembered, for the last thousand or so entries (the terms are shared:
        read them, never change them); any other mapping is parsed every time."""
        known = _PARSED.get(id(details))
        if known is not None and known[0] is details:
            return known[1]
        terms = cls(details)
        _remember(details, terms)
        return terms

    @exact_arithmetic
    def postings(self, lots: FifoBook, bot_id: BotId | None) -> tuple[Posting, ...]:
        """The postings of this fill against ``lots`` (which it changes)."""
        booking = lots.apply(self.side, self.quantity, self.price)
        ccy = self.currency
        gross = self.quantity * self.price * self.multiplier
        rows = [
            Posting(CASH, ccy, -gross if self.side is OrderSide.BUY else gross, bot_id),
            Posting(
                position_book(self.instrument_id),
                ccy,
                booking.cost_added - booking.cost_removed,
                bot_id,
            ),
        ]
        if not booking.realized.is_zero():
            rows.append(Posting(PNL_REALIZED, ccy, -booking.realized, bot_id))
        if not self.fee.is_zero():
            rows.append(Posting(CASH, self.fee_currency, -self.fee, bot_id))
            rows.append(Posting(FEES, self.fee_currency, self.fee, bot_id))
        return tuple(p for p in rows if not p.amount.is_zero())


# Parsed terms by the id of the frozen details they came from. The entry holds the mapping, so
# its id is not reused while it is here; an identity check guards the look-up all the same.
_PARSED: dict[int, tuple[Mapping[str, str], FillTerms]] = {}
_PARSED_KEPT = 1024


def _remember(details: Mapping[str, str], terms: FillTerms) -> None:
    if type(details) is not MappingProxyType:  # not frozen: it may still change
        return
    if len(_PARSED) >= _PARSED_KEPT:
        _PARSED.clear()
    _PARSED[id(details)] = (details, terms)


def fill_entry_id(fill: Fill) -> LedgerEntryId:
    return LedgerEntryId(f"fill:{fill.venue}:{fill.trade_id}")


LotKey = tuple[BotId | None, InstrumentId]


class AccountBook:
    """One account's FIFO lots and chain head, rebuilt by replaying its entries in order.

    Lots are kept per (bot, instrument) within the account: each bot's trades close its own
    lots, so a bot's realized P&L and open position are its own. Fills without a bot form the
    account's own book. With one bot per instrument (or none) this is FIFO per
    (account, instrument).
    """

    def __init__(self, account_id: AccountId) -> None:
        self.account_id = account_id
        self.lots: dict[LotKey, FifoBook] = {}
        self.head_seq = 0
        self.head_hash = GENESIS_HASH

    def lots_for(
        self, bot_id: BotId | None, instrument_id: InstrumentId, multiplier: Decimal
    ) -> FifoBook:
        book = self.lots.get((bot_id, instrument_id))
        if book is None:
            book = self.lots[(bot_id, instrument_id)] = FifoBook(multiplier)
        elif book.multiplier != multiplier:
            raise ValueError(
                f"{instrument_id}: multiplier {multiplier} differs from the booked "
                f"{book.multiplier}"
            )
        return book

    def _scratch(self, terms: FillTerms, bot_id: BotId | None) -> FifoBook:
        current = self.lots.get((bot_id, terms.instrument_id))
        if current is None:
            return FifoBook(terms.multiplier)
        if current.multiplier != terms.multiplier:
            raise ValueError(
                f"{terms.instrument_id}: multiplier {terms.multiplier} differs from the "
                f"booked {current.multiplier}"
            )
        return current.copy()

    def expected_postings(self, terms: FillTerms, bot_id: BotId | None) -> tuple[Posting, ...]:
        """The postings a fill should have, given the lots so far (the book is unchanged)."""
        return terms.postings(self._scratch(terms, bot_id), bot_id)

    def fill_entry(self, fill: Fill, instrument: Instrument) -> NewEntry:
        """Propose the FILL entry for ``fill``; the book changes only on :meth:`replay`."""
        if fill.account_id != self.account_id:
            raise ValueError(f"fill {fill.trade_id} is for account {fill.account_id}")
        if fill.instrument_id != instrument.id:
            raise ValueError(
                f"fill {fill.trade_id} is for {fill.instrument_id}, not {instrument.id}"
            )
        details = {
            "instrument": instrument.id.value,
            "venue": fill.venue.value,
            "trade_id": fill.trade_id.value,
            "client_order_id": fill.client_order_id.value,
            "side": fill.side.value,
            "quantity": canonical_decimal(fill.quantity.value),
            "price": canonical_decimal(fill.price.value),
            "multiplier": canonical_decimal(instrument.multiplier),
            "currency": instrument.currency.code,
            "fee": canonical_decimal(fill.fee.amount),
            "fee_currency": fill.fee.currency.code,
        }
        terms = FillTerms._written(fill, instrument, details)
        entry = NewEntry(
            account_id=self.account_id,
            entry_id=fill_entry_id(fill),
            kind=EntryKind.FILL,
            ts=fill.ts,
            postings=self.expected_postings(terms, fill.bot_id),
            bot_id=fill.bot_id,
            details=details,
        )
        _remember(entry.details, terms)  # the same text, frozen: replay and summaries read it
        return entry

    def replay(self, entry: LedgerEntry) -> None:
        """Move the book past ``entry`` (which must be the next in this account's chain)."""
        if entry.account_id != self.account_id or entry.seq != self.head_seq + 1:
            raise ValueError(
                f"expected entry #{self.head_seq + 1} of {self.account_id}, was {entry.label()}"
            )
        if entry.prev_hash != self.head_hash:
            raise ValueError(f"{entry.label()} does not link to entry #{self.head_seq}'s hash")
        if entry.kind is EntryKind.FILL:
            terms = FillTerms.of(entry.details)
            lots = self.lots_for(entry.bot_id, terms.instrument_id, terms.multiplier)
            lots.apply(terms.side, terms.quantity, terms.price)
        self.head_seq = entry.seq
        self.head_hash = entry.hash


def _simple(
    kind: EntryKind,
    account_id: AccountId,
    entry_id: LedgerEntryId,
    ts: datetime,
    postings: tuple[Posting, ...],
    memo: str,
    bot_id: BotId | None = None,
) -> NewEntry:
    details = {"memo": memo} if memo else {}
    return NewEntry(account_id, entry_id, kind, ts, postings, bot_id, details)


def _positive(what: str, amount: Money) -> None:
    if amount.amount <= 0:
        raise ValueError(f"{what}: expected an amount > 0, was {amount}")


def deposit(
    account_id: AccountId, entry_id: LedgerEntryId, ts: datetime, amount: Money, memo: str = ""
) -> NewEntry:
    _positive("deposit", amount)
    ccy = amount.currency
    postings = (Posting(CASH, ccy, amount.amount), Posting(CAPITAL, ccy, -amount.amount))
    return _simple(EntryKind.DEPOSIT, account_id, entry_id, ts, postings, memo)


def withdrawal(
    account_id: AccountId, entry_id: LedgerEntryId, ts: datetime, amount: Money, memo: str = ""
) -> NewEntry:
    _positive("withdrawal", amount)
    ccy = amount.currency
    postings = (Posting(CASH, ccy, -amount.amount), Posting(CAPITAL, ccy, amount.amount))
    return _simple(EntryKind.WITHDRAWAL, account_id, entry_id, ts, postings, memo)


def allocation(
    account_id: AccountId,
    entry_id: LedgerEntryId,
    ts: datetime,
    bot_id: BotId,
    amount: Money,
    memo: str = "",
) -> NewEntry:
    """Move cash from the account to ``bot_id`` (a negative amount returns it)."""
    if amount.is_zero():
        raise ValueError("allocation: expected a non-zero amount")
    ccy = amount.currency
    postings = (Posting(CASH, ccy, -amount.amount), Posting(CASH, ccy, amount.amount, bot_id))
    return _simple(EntryKind.ALLOCATION, account_id, entry_id, ts, postings, memo, bot_id)


def fee(
    account_id: AccountId,
    entry_id: LedgerEntryId,
    ts: datetime,
    amount: Money,
    memo: str = "",
    bot_id: BotId | None = None,
) -> NewEntry:
    """A charge not attached to a fill (a monthly platform fee, DP charges, funding)."""
    _positive("fee", amount)
    ccy = amount.currency
    postings = (
        Posting(CASH, ccy, -amount.amount, bot_id),
        Posting(FEES, ccy, amount.amount, bot_id),
    )
    return _simple(EntryKind.FEE, account_id, entry_id, ts, postings, memo, bot_id)


def adjustment(
    account_id: AccountId,
    entry_id: LedgerEntryId,
    ts: datetime,
    amount: Money,
    memo: str,
    bot_id: BotId | None = None,
) -> NewEntry:
    """A correction of cash, always a new entry with a reason (never an edit)."""
    if amount.is_zero():
        raise ValueError("adjustment: expected a non-zero amount")
    if not memo.strip():
        raise ValueError("adjustment: a reason (memo) is required")
    ccy = amount.currency
    postings = (
        Posting(CASH, ccy, amount.amount, bot_id),
        Posting(ADJUSTMENTS, ccy, -amount.amount, bot_id),
    )
    return _simple(EntryKind.ADJUSTMENT, account_id, entry_id, ts, postings, memo, bot_id)
