"""Each circuit breaker: trip, stay tripped, reset (by timer or by hand), with its history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.domain.risk.base import TradingState
from algodesk.domain.risk.breakers import BreakerConfig, BreakerKind, CircuitBreaker
from tests.conftest import T0

D = Decimal
MIN = timedelta(minutes=1)


def test_drawdown_is_measured_from_the_peak_and_halts() -> None:
    breaker = CircuitBreaker(BreakerConfig(max_drawdown_pct=D(10)))
    assert breaker.observe_equity(T0, D(100_000)) is None
    assert breaker.observe_equity(T0 + MIN, D(120_000)) is None  # new peak
    assert breaker.observe_equity(T0 + 2 * MIN, D(108_001)) is None  # 9.9992% below the peak
    trip = breaker.observe_equity(T0 + 3 * MIN, D(108_000))  # 10% below 120,000
    assert trip is not None
    assert trip.kind is BreakerKind.DRAWDOWN
    assert breaker.state is TradingState.HALTED
    assert trip.reason == (
        "DRAWDOWN_LIMIT: drawdown_pct=10, limit_pct=10, peak_equity=120000, equity=108000"
    )
    # Recovering equity does not lift the halt; only the timer or a reset does.
    breaker.observe_equity(T0 + 4 * MIN, D(130_000))
    assert breaker.state is TradingState.HALTED


def test_daily_loss_sets_reducing_and_stays_until_reset() -> None:
    breaker = CircuitBreaker(BreakerConfig(daily_loss_pct=D(2)))
    assert breaker.observe_equity(T0, D("49000.01"), day_start_equity=D(50_000)) is None
    trip = breaker.observe_equity(T0 + MIN, D(49_000), day_start_equity=D(50_000))
    assert trip is not None
    assert trip.kind is BreakerKind.DAILY_LOSS
    assert breaker.state is TradingState.REDUCING
    assert breaker.observe_equity(T0 + 2 * MIN, D(48_000), day_start_equity=D(50_000)) is None
    assert len(breaker.history) == 1  # one trip, not one per observation
    (closed,) = breaker.reset(T0 + 3 * MIN, by="admin: reviewed the day")
    assert breaker.state is TradingState.ACTIVE
    assert closed.reset_by == "admin: reviewed the day"
    assert breaker.history == [closed]


def test_consecutive_losses_trip_and_a_win_resets_the_count() -> None:
    breaker = CircuitBreaker(BreakerConfig(max_consecutive_losses=3))
    assert breaker.observe_closed_trade(T0, D(-5)) is None
    assert breaker.observe_closed_trade(T0, D(-5)) is None
    assert breaker.observe_closed_trade(T0, D(1)) is None  # a win: the streak is broken
    assert breaker.observe_closed_trade(T0, D(-1)) is None
    assert breaker.observe_closed_trade(T0, D(-1)) is None
    trip = breaker.observe_closed_trade(T0, D("-0.01"))
    assert trip is not None
    assert trip.figures == (("losses_in_a_row", "3"), ("limit", "3"))
    assert breaker.state is TradingState.REDUCING


def test_errors_per_hour_use_a_sliding_window() -> None:
    breaker = CircuitBreaker(BreakerConfig(max_errors_per_hour=3))
    breaker.observe_error(T0)
    breaker.observe_error(T0 + 30 * MIN)
    assert breaker.observe_error(T0 + 60 * MIN) is None  # the first one has left the window
    trip = breaker.observe_error(T0 + 61 * MIN)
    assert trip is not None
    assert trip.kind is BreakerKind.ERROR_RATE
    assert breaker.state is TradingState.HALTED


def test_a_trip_resets_itself_after_the_configured_time() -> None:
    breaker = CircuitBreaker(
        BreakerConfig(max_consecutive_losses=1, reset_after=timedelta(hours=24))
    )
    trip = breaker.observe_closed_trade(T0, D(-1))
    assert trip is not None
    assert breaker.expire(T0 + timedelta(hours=23, minutes=59)) == []
    assert breaker.state is TradingState.REDUCING
    (closed,) = breaker.expire(T0 + timedelta(hours=24))
    assert closed.reset_by == "timer"
    assert breaker.state is TradingState.ACTIVE
    assert breaker.history[0].reset_on == T0 + timedelta(hours=24)


def test_after_the_timer_a_drawdown_still_present_trips_again() -> None:
    breaker = CircuitBreaker(BreakerConfig(max_drawdown_pct=D(5), reset_after=timedelta(hours=1)))
    breaker.observe_equity(T0, D(100))
    assert breaker.observe_equity(T0, D(95)) is not None
    again = breaker.observe_equity(T0 + timedelta(hours=2), D(95))  # the peak is remembered
    assert again is not None
    assert len(breaker.history) == 2
    assert breaker.history[0].reset_by == "timer"


def test_the_most_severe_active_trip_decides_the_state() -> None:
    breaker = CircuitBreaker(BreakerConfig(max_consecutive_losses=1, max_errors_per_hour=1))
    breaker.observe_closed_trade(T0, D(-1))
    assert breaker.state is TradingState.REDUCING
    breaker.observe_error(T0)
    assert breaker.state is TradingState.HALTED
    assert [t.kind for t in breaker.active] == [
        BreakerKind.CONSECUTIVE_LOSSES,
        BreakerKind.ERROR_RATE,
    ]


def test_a_reset_must_say_who() -> None:
    breaker = CircuitBreaker(BreakerConfig())
    with pytest.raises(ValueError, match="who reset"):
        breaker.reset(T0, by=" ")


def test_switched_off_breakers_never_trip() -> None:
    breaker = CircuitBreaker(BreakerConfig())
    assert breaker.observe_equity(T0, D(100)) is None
    assert breaker.observe_equity(T0, D(1)) is None
    assert breaker.observe_closed_trade(T0, D(-1)) is None
    assert breaker.observe_error(T0) is None
    assert breaker.state is TradingState.ACTIVE
