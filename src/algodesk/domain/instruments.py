"""Instruments: what can be traded (or, for an index, only watched), and how its numbers are made.

Prices and quantities for an instrument are built through :meth:`Instrument.make_price` and
:meth:`Instrument.make_qty`, which check (or round to) the tick size and the lot or step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.values import Currency, Money, Price, Quantity, to_decimal

__all__ = ["AssetClass", "Instrument", "OptionRight"]


class AssetClass(StrEnum):
    EQUITY = "EQUITY"
    INDEX = "INDEX"
    FUTURE = "FUTURE"
    OPTION = "OPTION"
    CRYPTO_SPOT = "CRYPTO_SPOT"
    CRYPTO_PERPETUAL = "CRYPTO_PERPETUAL"


class OptionRight(StrEnum):
    CALL = "CALL"
    PUT = "PUT"

    @classmethod
    def parse(cls, text: str) -> OptionRight:
        """``CE``/``C``/``CALL`` and ``PE``/``P``/``PUT``, any case."""
        key = text.strip().upper()
        if key in {"CE", "C", "CALL"}:
            return cls.CALL
        if key in {"PE", "P", "PUT"}:
            return cls.PUT
        raise ValueError(f"expected an option right (CE, PE, CALL, PUT), was {text!r}")


_DERIVATIVES = {AssetClass.FUTURE, AssetClass.OPTION}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable (or watch-only) instrument.

    ``lot_size`` is the quantity step for orders (1 for most equities, 75 for a NIFTY option lot,
    0.001 for a crypto step); ``min_quantity``/``max_quantity`` bound one order;
    ``freeze_quantity`` is NSE's per-order maximum above which orders are sliced;
    ``multiplier`` turns price × quantity into money (1 where the quantity already counts units).
    """

    id: InstrumentId
    asset_class: AssetClass
    currency: Currency
    tick_size: Decimal
    lot_size: Decimal = Decimal(1)
    multiplier: Decimal = Decimal(1)
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    freeze_quantity: Decimal | None = None
    underlying: str | None = None
    expiry: date | None = None
    strike: Decimal | None = None
    right: OptionRight | None = None
    base_currency: Currency | None = None

    def __post_init__(self) -> None:
        # Numbers may be given as Decimal, int or str; they are kept as Decimal. Floats raise.
        for name in ("tick_size", "lot_size", "multiplier"):
            value = to_decimal(getattr(self, name))
            if value <= 0:
                raise ValueError(f"{self.id}: expected {name} > 0, was {value}")
            object.__setattr__(self, name, value)
        for name in ("min_quantity", "max_quantity", "freeze_quantity", "strike"):
            raw = getattr(self, name)
            if raw is not None:
                value = to_decimal(raw)
                if value <= 0:
                    raise ValueError(f"{self.id}: expected {name} > 0, was {value}")
                object.__setattr__(self, name, value)
        if self.asset_class in _DERIVATIVES:
            if not self.underlying:
                raise ValueError(f"{self.id}: a {self.asset_class} needs an underlying")
            if self.expiry is None:
                raise ValueError(f"{self.id}: a {self.asset_class} needs an expiry date")
        if self.asset_class is AssetClass.OPTION and (self.strike is None or self.right is None):
            raise ValueError(f"{self.id}: an option needs a strike and a right (CALL/PUT)")
        if self.asset_class is not AssetClass.OPTION and (
            self.strike is not None or self.right is not None
        ):
            raise ValueError(f"{self.id}: only options have a strike and a right")
        if (
            self.min_quantity is not None
            and self.max_quantity is not None
            and self.min_quantity > self.max_quantity
        ):
            raise ValueError(
                f"{self.id}: min_quantity {self.min_quantity} > max_quantity {self.max_quantity}"
            )

    @property
    def venue(self) -> Venue:
        return self.id.venue

    @property
    def symbol(self) -> str:
        return self.id.symbol

    @property
    def tradable(self) -> bool:
        """An index is watched (marks, option strikes) but never ordered."""
        return self.asset_class is not AssetClass.INDEX

    def make_price(self, value: object, rounding: str | None = None) -> Price:
        """A price on this instrument's tick.

        With ``rounding`` (a ``decimal`` rounding mode) the value is rounded to the tick; without,
        a value off the tick raises ``ValueError`` naming the tick.
        """
        p = Price(to_decimal(value))
        if rounding is not None:
            return p.round_to_tick(self.tick_size, rounding)
        if not p.is_multiple_of(self.tick_size):
            raise ValueError(f"{self.id}: price {p} is not a multiple of the tick {self.tick_size}")
        return p

    def make_qty(self, value: object, rounding: str | None = None) -> Quantity:
        """A quantity in whole lots (or steps).

        With ``rounding`` the value is rounded to the lot (``ROUND_DOWN`` never grows an order);
        without, a value that is not a whole number of lots raises ``ValueError``.
        """
        q = Quantity(to_decimal(value))
        if rounding is not None:
            return q.round_to_step(self.lot_size, rounding)
        if not q.is_multiple_of(self.lot_size):
            raise ValueError(
                f"{self.id}: quantity {q} is not a multiple of the lot size {self.lot_size}"
            )
        return q

    def floor_qty(self, value: object) -> Quantity:
        return self.make_qty(value, ROUND_DOWN)

    def notional(self, qty: Quantity, px: Price) -> Money:
        """Quantity × price × multiplier, in the instrument's currency."""
        return Money(qty.value * px.value * self.multiplier, self.currency)
