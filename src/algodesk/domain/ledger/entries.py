"""Ledger entries and their double-entry postings.

Sign convention: debits are positive, credits negative, and the postings of an entry sum to
zero in each currency. Book accounts:

=====================  ======================================================================
``cash``               money held (positive is an asset)
``position:<id>``      cost of the open FIFO lots of an instrument (negative for shorts)
``pnl:realized``       realized trading P&L (a credit, so a profit is a negative balance)
``fees``               fees and charges paid (an expense, positive)
``capital``            deposits less withdrawals (a credit)
``adjustments``        the other side of a manual adjustment
=====================  ======================================================================

A posting may carry a bot: a bot's view is the postings that carry its id. An allocation moves
cash from the account (no bot) to a bot and changes no account total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from algodesk.domain.fills import require_utc
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, LedgerEntryId
from algodesk.domain.values import Currency, exact_arithmetic

__all__ = [
    "ADJUSTMENTS",
    "CAPITAL",
    "CASH",
    "FEES",
    "PNL_REALIZED",
    "EntryKind",
    "LedgerEntry",
    "NewEntry",
    "Posting",
    "position_book",
]

CASH = "cash"
FEES = "fees"
PNL_REALIZED = "pnl:realized"
CAPITAL = "capital"
ADJUSTMENTS = "adjustments"
_POSITION_PREFIX = "position:"


def position_book(instrument_id: InstrumentId) -> str:
    return f"{_POSITION_PREFIX}{instrument_id}"


class EntryKind(StrEnum):
    FILL = "FILL"
    FEE = "FEE"
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    ALLOCATION = "ALLOCATION"
    ADJUSTMENT = "ADJUSTMENT"


@dataclass(frozen=True, slots=True)
class Posting:
    book: str
    currency: Currency
    amount: Decimal
    bot_id: BotId | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise TypeError(f"posting {self.book}: expected a finite Decimal, was {self.amount!r}")


def _freeze(details: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only view of a private copy: no one can change it (``FillTerms.of`` relies on
    that)."""
    for key, value in details.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"entry details must map str to str, had {key!r}: {value!r}")
    return MappingProxyType(dict(details))


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry not yet sealed into the chain (no sequence number, no hash)."""

    account_id: AccountId
    entry_id: LedgerEntryId
    kind: EntryKind
    ts: datetime
    postings: tuple[Posting, ...]
    bot_id: BotId | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_utc("ledger entry ts", self.ts)
        object.__setattr__(self, "details", _freeze(self.details))
        if not self.postings:
            raise ValueError(f"entry {self.entry_id}: expected at least one posting")
        unbalanced = imbalance(self.postings)
        if unbalanced:
            raise ValueError(f"entry {self.entry_id}: postings do not balance: {unbalanced}")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A sealed entry: number ``seq`` in its account's chain, with its own and the previous hash."""

    account_id: AccountId
    seq: int
    entry_id: LedgerEntryId
    kind: EntryKind
    ts: datetime
    postings: tuple[Posting, ...]
    bot_id: BotId | None
    details: Mapping[str, str]
    prev_hash: str
    hash: str

    def label(self) -> str:
        return f"{self.account_id} #{self.seq} ({self.kind} {self.entry_id})"


@exact_arithmetic
def imbalance(postings: tuple[Posting, ...]) -> dict[str, Decimal]:
    """Per currency, the non-zero sums of ``postings`` (empty when they balance)."""
    sums: dict[str, Decimal] = {}
    for p in postings:
        sums[p.currency.code] = sums.get(p.currency.code, Decimal(0)) + p.amount
    return {ccy: total for ccy, total in sums.items() if not total.is_zero()}
