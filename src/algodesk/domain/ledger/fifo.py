"""FIFO lots for one (account, instrument): long and short, partial closes and flips.

A buy first closes short lots, oldest first, then opens a long lot with what is left; a sell does
the mirror. Realized P&L of a closed quantity is ``(close − open) × qty × multiplier`` for a
long lot and the negative for a short lot. Fees are not lots' business: they are booked apart.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from algodesk.domain.fills import OrderSide
from algodesk.domain.values import exact_arithmetic

__all__ = ["Booking", "FifoBook", "Lot"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class Lot:
    """An open lot: ``quantity`` is signed (negative for a short), ``price`` the opening price."""

    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class Booking:
    """What one fill did to the lots, in money (price × quantity × multiplier)."""

    realized: Decimal  # realized P&L, gross of fees
    cost_removed: Decimal  # signed cost of the lot quantity closed
    cost_added: Decimal  # signed cost of the new lot opened (zero if none)
    closed_quantity: Decimal
    opened_quantity: Decimal


class FifoBook:
    """The open lots of one instrument in one account."""

    __slots__ = ("_lots", "multiplier")

    def __init__(self, multiplier: Decimal = Decimal(1)) -> None:
        self.multiplier = multiplier
        self._lots: deque[Lot] = deque()

    @property
    def lots(self) -> tuple[Lot, ...]:
        return tuple(Lot(lot.quantity, lot.price) for lot in self._lots)

    @property
    @exact_arithmetic
    def position(self) -> Decimal:
        return sum((lot.quantity for lot in self._lots), _ZERO)

    @property
    @exact_arithmetic
    def cost(self) -> Decimal:
        """Signed cost of the open lots."""
        return sum((lot.quantity * lot.price for lot in self._lots), _ZERO) * self.multiplier

    def copy(self) -> FifoBook:
        twin = FifoBook(self.multiplier)
        twin._lots.extend(Lot(lot.quantity, lot.price) for lot in self._lots)
        return twin

    @exact_arithmetic
    def apply(self, side: OrderSide, quantity: Decimal, price: Decimal) -> Booking:
        if quantity <= 0:
            raise ValueError(f"expected a fill quantity > 0, was {quantity}")
        sign = side.sign
        remaining = quantity
        realized = _ZERO
        cost_removed = _ZERO
        closed = _ZERO
        lots = self._lots
        # Close lots of the opposite sign, oldest first.
        while remaining > 0 and lots and (lots[0].quantity < 0) == (sign > 0):
            lot = lots[0]
            take = min(remaining, abs(lot.quantity))
            lot_sign = -sign  # the lot's own sign
            realized += (price - lot.price) * take * lot_sign
            cost_removed += lot.price * take * lot_sign
            closed += take
            remaining -= take
            if take == abs(lot.quantity):
                lots.popleft()
            else:
                lot.quantity -= take * lot_sign
        cost_added = _ZERO
        if remaining > 0:
            lots.append(Lot(remaining * sign, price))
            cost_added = price * remaining * sign
        m = self.multiplier
        return Booking(
            realized=realized * m,
            cost_removed=cost_removed * m,
            cost_added=cost_added * m,
            closed_quantity=closed,
            opened_quantity=remaining,
        )
