"""Option symbols: a symbol-map target that names an option by rule, not by contract.

``NIFTY:nearest:OTM2:CE`` is ``UNDERLYING:EXPIRY:OFFSET:RIGHT``: the underlying's name in the
instrument master, an expiry rule (``nearest``, ``weekly``, ``next-weekly``, ``monthly``,
``next-monthly``) or an ISO date, ``ATM`` / ``ITMn`` / ``OTMn``, and ``CE`` / ``PE`` (``CALL``,
``PUT``, ``C``, ``P`` accepted). An optional ``.VENUE`` suffix names the venue
(``NIFTY:nearest:OTM2:CE.NFO``); without it the venue is the bot's. Which contract it means
depends on the day and the underlying's price, so it is resolved when an alert arrives
(:meth:`~algodesk.domain.market.options.OptionChain.resolve`), never stored as a contract.

A bot's symbol map holds either an :class:`~algodesk.domain.identifiers.InstrumentId` or an
:class:`OptionSymbol`; :func:`symbol_target` reads the text of either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.market.options import (
    ExpiryRule,
    OptionChainError,
    StrikeOffset,
    parse_expiry,
)

__all__ = ["OptionSymbol", "SymbolTarget", "is_option_symbol", "symbol_target"]

_VENUE_SUFFIX = re.compile(r"^(?P<body>[^.]+)\.(?P<venue>[A-Z0-9_]{2,32})$")
_UNDERLYING = re.compile(r"^[A-Z0-9][A-Z0-9_&\-]{0,31}$")


def is_option_symbol(text: str) -> bool:
    """Whether ``text`` is written as an option symbol (four parts separated by ``:``)."""
    match = _VENUE_SUFFIX.match(text.strip())
    body = match.group("body") if match else text.strip()
    return body.count(":") == 3


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    """An option named by underlying, expiry rule, strike offset and right, on ``venue``."""

    underlying: str
    expiry: date | ExpiryRule
    offset: StrikeOffset
    right: OptionRight
    venue: Venue

    @classmethod
    def parse(cls, text: str, venue: Venue) -> OptionSymbol:
        """``UNDERLYING:EXPIRY:OFFSET:RIGHT[.VENUE]``; ``venue`` when there is no suffix.
        Refusals are :class:`OptionChainError` (``BAD_OPTION_SYMBOL``, ``BAD_EXPIRY_RULE``,
        ``BAD_OFFSET``, ``BAD_RIGHT``)."""
        stripped = text.strip()
        match = _VENUE_SUFFIX.match(stripped)
        body, on = (
            (match.group("body"), Venue(match.group("venue"))) if match else (stripped, venue)
        )
        parts = body.split(":")
        if len(parts) != 4:
            raise OptionChainError(
                "BAD_OPTION_SYMBOL",
                f"expected UNDERLYING:EXPIRY:OFFSET:RIGHT (e.g. NIFTY:nearest:OTM2:CE), "
                f"was {text!r}",
            )
        name = parts[0].strip().upper()
        if not _UNDERLYING.match(name):
            raise OptionChainError(
                "BAD_OPTION_SYMBOL", f"expected an underlying like NIFTY, was {parts[0]!r}"
            )
        try:
            right = OptionRight.parse(parts[3])
        except ValueError as exc:
            raise OptionChainError("BAD_RIGHT", str(exc)) from None
        return cls(name, parse_expiry(parts[1]), StrikeOffset.parse(parts[2]), right, on)

    @property
    def value(self) -> str:
        """The canonical text, without the venue: ``NIFTY:nearest:OTM2:CE``."""
        expiry = self.expiry.value if isinstance(self.expiry, ExpiryRule) else self.expiry
        right = "CE" if self.right is OptionRight.CALL else "PE"
        return f"{self.underlying}:{expiry}:{self.offset}:{right}"

    def __str__(self) -> str:
        return self.value

    def matches(self, instrument: Instrument) -> bool:
        """Whether ``instrument`` is a contract this symbol can name whatever the spot: an
        option of the same underlying, right and venue (and expiry, when it is a date). What
        a close or cancel of the symbol addresses, since the strike moves with the spot."""
        return (
            instrument.asset_class is AssetClass.OPTION
            and instrument.venue == self.venue
            and (instrument.underlying or "").upper() == self.underlying
            and instrument.right is self.right
            and (isinstance(self.expiry, ExpiryRule) or instrument.expiry == self.expiry)
        )


SymbolTarget = InstrumentId | OptionSymbol


def symbol_target(text: str, venue: Venue) -> SymbolTarget:
    """A symbol-map target from its text: an option symbol (see the module) or an instrument
    id ``SYMBOL.VENUE``. Raises ``ValueError`` (an :class:`OptionChainError` for options)."""
    if is_option_symbol(text):
        return OptionSymbol.parse(text, venue)
    return InstrumentId(text)
