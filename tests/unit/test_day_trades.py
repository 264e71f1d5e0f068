"""Counting day trades from the ledger's fills, as the pattern-day-trader rule needs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.day_trades import count_day_trades, window_start
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import BotId
from algodesk.services.ledger import LedgerService
from algodesk.testing.clock import FixedClock
from tests.conftest import AAPL, ACCOUNT, T0, make_fill

BUY, SELL = OrderSide.BUY, OrderSide.SELL
DAY = timedelta(days=1)


def trades(*fills: tuple[int, OrderSide, str]) -> int:
    store = InMemoryStore()
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    for n, (day, side, qty) in enumerate(fills, start=1):
        fill = make_fill(n, side, qty, "100")
        ledger.record_fill(replace(fill, ts=T0 + day * DAY + timedelta(minutes=n)), AAPL)
    return count_day_trades(ledger.entries(ACCOUNT), T0.date())


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        ([(0, BUY, "10"), (0, SELL, "10")], 1),
        ([(0, BUY, "10"), (1, SELL, "10")], 0),  # held overnight
        ([(0, BUY, "10"), (0, SELL, "4"), (0, SELL, "6")], 2),  # each closing fill counts
        ([(0, SELL, "5"), (0, BUY, "5")], 1),  # a short covered the same day
        ([(0, BUY, "10"), (1, SELL, "10"), (1, BUY, "10")], 0),  # closing an old position
        ([(0, BUY, "10"), (1, SELL, "10"), (1, BUY, "10"), (1, SELL, "10")], 1),
        (
            [(0, BUY, "10"), (0, SELL, "15"), (0, BUY, "5")],
            2,
        ),  # the flip opens a short the same day
    ],
)
def test_day_trade_cases(fills: list[tuple[int, OrderSide, str]], expected: int) -> None:
    assert trades(*fills) == expected


def test_the_window_is_five_weekdays() -> None:
    friday = date(2026, 11, 20)
    assert window_start(friday) == date(2026, 11, 16)  # Monday of the same week
    monday = date(2026, 11, 23)
    assert window_start(monday) == date(2026, 11, 17)  # the Tuesday before
    assert window_start(date(2026, 11, 22)) == date(2026, 11, 16)  # a Sunday counts back 5


def test_two_bots_opening_and_closing_the_same_stock_on_one_day_are_a_day_trade() -> None:
    """The broker counts the account: one bot's buy and another's sale close its position."""
    store = InMemoryStore()
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), FixedClock())
    ledger.record_fill(make_fill(1, BUY, "10", bot=BotId("a")), AAPL)
    ledger.record_fill(make_fill(2, SELL, "10", bot=BotId("b")), AAPL)
    assert count_day_trades(ledger.entries(ACCOUNT), T0.date()) == 1
