"""Freeze-quantity slicing: split one order into child orders the exchange will accept.

An order above the instrument's freeze quantity is frozen (rejected) by NSE. The figure is
published two ways: NSE's circulars give the largest quantity allowed in one order (NIFTY 1,800,
BANKNIFTY 600), and some broker masters give ``max_lots × lot + 1`` (NIFTY 1,756 = 27 × 65 + 1,
BANKNIFTY 601), the first quantity that freezes. Reading the figure as "a child may be *at most*
this" is right for both: a ``+ 1`` figure is never a whole number of lots, so the largest
whole-lot child at or below it is the same as below it. NIFTY, lot 65, freeze 1,800 or 1,756 →
27 lots = 1,755; BANKNIFTY, lot 30, freeze 600 or 601 → 20 lots = 600. The instrument gate uses
the same reading (a quantity above the freeze is denied).

Children are whole lots, largest first: as many full children as fit, then the remainder
(3,640 NIFTY → 1,755, 1,755, 130). That is the fewest children possible. Pacing them within the
venue's order-rate cap is the caller's job.
"""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.instruments import Instrument
from algodesk.domain.values import Quantity, canonical_decimal, exact, to_decimal

__all__ = [
    "SlicingError",
    "max_child_quantity",
    "slice_closing",
    "slice_order",
    "slice_quantity",
]


class SlicingError(ValueError):
    """The quantity cannot be sliced; ``code`` is ``NOT_POSITIVE``, ``NOT_LOT_MULTIPLE`` or
    ``FREEZE_BELOW_LOT``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _n(value: Decimal) -> str:
    return canonical_decimal(value)


def max_child_quantity(lot_size: Decimal, freeze_quantity: Decimal) -> Decimal:
    """The largest whole-lot quantity at or below ``freeze_quantity``.

    ``FREEZE_BELOW_LOT`` when not even one lot fits (a freeze below the lot size).
    """
    lot = to_decimal(lot_size)
    freeze = to_decimal(freeze_quantity)
    if lot <= 0:
        raise SlicingError("NOT_POSITIVE", f"expected a lot size > 0, was {_n(lot)}")
    with exact():
        lots = freeze // lot
        if lots < 1:
            raise SlicingError(
                "FREEZE_BELOW_LOT",
                f"freeze quantity {_n(freeze)} leaves no room for one lot of {_n(lot)}",
            )
        return lots * lot


def slice_quantity(
    quantity: Decimal, lot_size: Decimal, freeze_quantity: Decimal | None
) -> tuple[Decimal, ...]:
    """Split ``quantity`` into whole-lot children, each at most ``freeze_quantity``.

    Largest children first; their sum is ``quantity``; the count is the fewest possible. Without
    a freeze quantity the order is one child. ``quantity`` must be > 0 (``NOT_POSITIVE``) and a
    whole number of lots (``NOT_LOT_MULTIPLE``).
    """
    qty = to_decimal(quantity)
    lot = to_decimal(lot_size)
    if lot <= 0:
        raise SlicingError("NOT_POSITIVE", f"expected a lot size > 0, was {_n(lot)}")
    if qty <= 0:
        raise SlicingError("NOT_POSITIVE", f"expected a quantity > 0, was {_n(qty)}")
    with exact():
        lots, rest = divmod(qty, lot)
    if rest != 0:
        raise SlicingError(
            "NOT_LOT_MULTIPLE",
            f"quantity {_n(qty)} is not a whole number of lots of {_n(lot)} "
            f"({_n(lots)} lots and {_n(rest)} over)",
        )
    if freeze_quantity is None:
        return (qty,)
    biggest = max_child_quantity(lot, to_decimal(freeze_quantity))
    with exact():
        full, remainder = divmod(qty, biggest)
        children = [biggest] * int(full)
        if remainder > 0:
            children.append(remainder)
    return tuple(children)


def slice_order(instrument: Instrument, qty: Quantity) -> tuple[Quantity, ...]:
    """:func:`slice_quantity` with the instrument's lot size and freeze quantity."""
    try:
        parts = slice_quantity(qty.value, instrument.lot_size, instrument.freeze_quantity)
    except SlicingError as exc:
        raise SlicingError(exc.code, f"{instrument.id}: {exc.message}") from None
    return tuple(Quantity(part) for part in parts)


def slice_closing(instrument: Instrument, qty: Quantity) -> tuple[Quantity, ...]:
    """The children of an order that closes a position of ``qty``: like :func:`slice_order`,
    but it never refuses, since a close must go whatever it holds. An odd part that is not a
    whole lot (a position from before a lot-size change) goes as the last child; a freeze
    quantity below one lot, or none, leaves the order whole."""
    if instrument.freeze_quantity is None or qty.value <= instrument.freeze_quantity:
        return (qty,)
    lot = instrument.lot_size
    with exact():
        odd = qty.value % lot if lot > 0 else Decimal(0)
        whole = qty.value - odd
    try:
        parts = slice_quantity(whole, lot, instrument.freeze_quantity) if whole > 0 else ()
    except SlicingError:
        return (qty,)
    return tuple(Quantity(p) for p in parts) + ((Quantity(odd),) if odd > 0 else ())
