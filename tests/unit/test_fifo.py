"""FIFO lots: long and short, partial closes and flips, with worked numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.ledger.fifo import FifoBook, Lot

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def test_a_sell_closes_the_oldest_long_lots_first() -> None:
    book = FifoBook()
    book.apply(BUY, D(100), D("187.25"))
    book.apply(BUY, D(50), D("185.10"))
    booking = book.apply(SELL, D(120), D("191.40"))
    assert booking.realized == D("415.00") + D("126.00")
    assert booking.cost_removed == D("18725.00") + D("3702.00")
    assert book.lots == (Lot(D(30), D("185.10")),)


def test_a_short_is_opened_and_covered_at_a_profit() -> None:
    book = FifoBook()
    book.apply(SELL, D(10), D(50))
    assert book.position == D(-10)
    assert book.cost == D(-500)
    booking = book.apply(BUY, D(4), D(45))
    assert booking.realized == D(20)
    assert book.position == D(-6)


def test_a_fill_larger_than_the_position_flips_it() -> None:
    book = FifoBook(multiplier=D(50))
    book.apply(BUY, D(2), D(100))
    booking = book.apply(SELL, D(5), D(101))
    assert booking.realized == D(100)  # 2 contracts × 1 point × 50
    assert booking.closed_quantity == D(2)
    assert booking.opened_quantity == D(3)
    assert booking.cost_added == D(-3) * D(101) * D(50)
    assert book.lots == (Lot(D(-3), D(101)),)


def test_fractional_crypto_quantities_stay_exact() -> None:
    book = FifoBook()
    book.apply(BUY, D("0.00000001"), D("65000.1"))
    booking = book.apply(SELL, D("0.00000001"), D("65000.3"))
    assert booking.realized == D("0.000000002")
    assert book.position == 0


def test_a_zero_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="quantity > 0"):
        FifoBook().apply(BUY, D(0), D(1))


def test_copy_is_independent() -> None:
    book = FifoBook()
    book.apply(BUY, D(1), D(1))
    twin = book.copy()
    twin.apply(SELL, D(1), D(2))
    assert book.position == D(1)
    assert twin.position == D(0)
