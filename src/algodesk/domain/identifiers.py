"""Typed identifiers: an ``AccountId`` is never a ``BotId``, even when equal as text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AccountId",
    "BotId",
    "ClientOrderId",
    "InstrumentId",
    "LedgerEntryId",
    "TradeId",
    "Venue",
    "VenueOrderId",
]


@dataclass(frozen=True, slots=True)
class _Identifier:
    value: str
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
    description: ClassVar[str] = "1-64 letters, digits, '_', '.', ':' or '-'"

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.pattern.match(self.value):
            raise ValueError(
                f"{type(self).__name__}: expected {self.description}, was {self.value!r}"
            )

    def __str__(self) -> str:
        return self.value

    # What the dataclass would generate, without its per-call tuples and recursion guard:
    # identifiers are dictionary keys everywhere, and reprs feed command fingerprints (the
    # text must not change). Equal only to the same kind of identifier.
    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(value={self.value!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)


class AccountId(_Identifier):
    """A trading account at one venue (a broker login, an exchange sub-account, a paper account)."""


class BotId(_Identifier):
    """A bot: a strategy or signal source with its own capital allocation and limits."""


class Venue(_Identifier):
    """An exchange or broker segment: ``NSE``, ``NFO``, ``NASDAQ``, ``BINANCE``, ``PAPER``."""

    pattern = re.compile(r"^[A-Z0-9_]{2,32}$")
    description = "2-32 upper-case letters, digits or '_'"


class InstrumentId(_Identifier):
    """``SYMBOL.VENUE``, e.g. ``NIFTY26AUGFUT.NFO``, ``AAPL.NASDAQ``, ``BTC/USDT.BINANCE``."""

    pattern = re.compile(r"^[^\s.][^\s]{0,63}\.[A-Z0-9_]{2,32}$")
    description = "SYMBOL.VENUE with no spaces, e.g. 'AAPL.NASDAQ'"

    @property
    def symbol(self) -> str:
        return self.value.rsplit(".", 1)[0]

    @property
    def venue(self) -> Venue:
        found = _VENUES.get(self.value)
        if found is None:
            found = Venue(self.value.rsplit(".", 1)[1])
            if len(_VENUES) >= _VENUES_KEPT:
                _VENUES.clear()
            _VENUES[self.value] = found
        return found

    @classmethod
    def of(cls, symbol: str, venue: str | Venue) -> InstrumentId:
        return cls(f"{symbol}.{venue}")


_VENUES: dict[str, Venue] = {}  # instrument id -> its venue (values are immutable)
_VENUES_KEPT = 65_536


class ClientOrderId(_Identifier):
    """Our id for an order: 1-20 characters ``[A-Z0-9]``, to fit the tightest venue (Kite tag)."""

    pattern = re.compile(r"^[A-Z0-9]{1,20}$")
    description = "1-20 upper-case letters or digits"


class VenueOrderId(_Identifier):
    """The venue's id for an order (a modify may give an order a new one)."""

    pattern = re.compile(r"^\S{1,128}$")
    description = "1-128 characters without spaces"


class TradeId(_Identifier):
    """The venue's id for one execution; with the venue it is the key that deduplicates fills."""

    pattern = re.compile(r"^\S{1,128}$")
    description = "1-128 characters without spaces"


class LedgerEntryId(_Identifier):
    """A ledger entry's id, unique per account; a fill's is derived from its venue and trade id."""

    pattern = re.compile(r"^\S{1,200}$")
    description = "1-200 characters without spaces"
