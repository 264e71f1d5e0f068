"""Account performance from ledger entries: capital flows are not P&L, drawdown follows the
peak, wins count closing fills, today's P&L starts at the day's first entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.fills import OrderSide
from algodesk.domain.values import Currency, money
from algodesk.services.ledger import LedgerService
from algodesk.services.performance import performance
from algodesk.testing.clock import FixedClock
from tests.conftest import AAPL, ACCOUNT, make_fill

USD = Currency("USD")
YESTERDAY = datetime(2026, 3, 2, 15, tzinfo=UTC)
TODAY = datetime(2026, 3, 3, tzinfo=UTC)


def _ledger() -> tuple[LedgerService, FixedClock]:
    store = InMemoryStore()
    clock = FixedClock(YESTERDAY)
    return LedgerService(lambda: InMemoryUnitOfWork(store), clock), clock


def test_deposits_are_not_pnl_and_move_the_drawdown_peak() -> None:
    ledger, clock = _ledger()
    ledger.deposit(ACCOUNT, money("1000", USD))
    ledger.record_fill(replace(make_fill(1, qty="10", px="50"), ts=YESTERDAY), AAPL)
    clock.set(TODAY + timedelta(hours=1))
    ledger.deposit(ACCOUNT, money("500", USD))
    now = TODAY + timedelta(hours=2)
    found = performance(ledger.entries(ACCOUNT), {AAPL.id: Decimal(40)}, now, TODAY)["USD"]
    assert found.equity == Decimal(1000 - 500 + 500 + 400)  # cash 1000 + position 10 @ 40
    assert found.today_pnl == Decimal(-100)  # 10 x (40 - 50); the deposit is not P&L
    assert found.peak == Decimal(1500)  # 1000, then moved up by the 500 deposit
    assert found.drawdown == Decimal(100) / Decimal(1500)
    assert found.exposure == Decimal(400)
    assert found.unmarked == []
    assert found.unrealized == Decimal(-100)
    assert found.day_basis == "fill prices"  # no price at the day's start: the fill's


def test_todays_pnl_starts_from_the_days_opening_marks_not_the_last_fill() -> None:
    ledger, _ = _ledger()
    ledger.deposit(ACCOUNT, money("10000", USD))
    ledger.record_fill(replace(make_fill(1, qty="10", px="100"), ts=YESTERDAY), AAPL)
    now = TODAY + timedelta(hours=5)
    found = performance(
        ledger.entries(ACCOUNT),
        {AAPL.id: Decimal(151)},
        now,
        TODAY,
        day_marks={AAPL.id: Decimal(150)},
    )["USD"]
    assert found.today_pnl == Decimal(10)  # 10 x (151 - 150), not 10 x (151 - 100)
    assert found.day_basis == "marks"
    assert found.unrealized == Decimal(510)


def test_win_rate_counts_closing_fills_and_unmarked_positions_are_named() -> None:
    ledger, _ = _ledger()
    ledger.deposit(ACCOUNT, money("10000", USD))
    fills = [
        make_fill(1, OrderSide.BUY, "10", "100"),
        make_fill(2, OrderSide.SELL, "5", "110"),  # +50: a win
        make_fill(3, OrderSide.SELL, "5", "90"),  # -50: a loss
        make_fill(4, OrderSide.BUY, "2", "100"),  # opens again, closes nothing
    ]
    for n, fill in enumerate(fills):
        ledger.record_fill(replace(fill, ts=YESTERDAY + timedelta(minutes=n)), AAPL)
    found = performance(ledger.entries(ACCOUNT), {}, TODAY, TODAY)["USD"]
    assert (found.closes, found.wins, found.win_rate) == (2, 1, Decimal("0.5"))
    assert found.realized == Decimal(0)
    assert found.unmarked == [AAPL.id.value]  # valued at its last fill price
    assert found.today_pnl == Decimal(0)  # nothing happened today
    assert found.curve[-1] == (TODAY, found.equity)
    assert len(found.curve) == 6  # five entries and now


def test_a_long_curve_is_thinned_but_keeps_its_last_point() -> None:
    ledger, clock = _ledger()
    for n in range(50):
        clock.set(YESTERDAY + timedelta(minutes=n))
        ledger.deposit(ACCOUNT, money("10", USD))
    found = performance(ledger.entries(ACCOUNT), {}, TODAY, TODAY, max_points=10)["USD"]
    assert len(found.curve) <= 11
    assert found.curve[-1] == (TODAY, Decimal(500))
    assert found.curve[0][0] == YESTERDAY
