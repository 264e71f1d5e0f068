"""The feed guard: per instrument and kind, only strictly newer events pass; what it drops is
counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from algodesk.adapters.feeds.guard import FeedGuard, event_time
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar, Quote, TradeTick
from algodesk.ports.market_data import MarketEvent
from tests.conftest import T0

AAPL = InstrumentId("AAPL.NASDAQ")
MSFT = InstrumentId("MSFT.NASDAQ")
MINUTE = timedelta(minutes=1)


def bar(minute: int, instrument_id: InstrumentId = AAPL, close: str = "100") -> Bar:
    return Bar(instrument_id, T0 + minute * MINUTE, close, close, close, close, "10")


def quote(minute: int, instrument_id: InstrumentId = AAPL) -> Quote:
    return Quote(instrument_id, T0 + minute * MINUTE, "100")


def tick(minute: int, instrument_id: InstrumentId = AAPL) -> TradeTick:
    return TradeTick(instrument_id, T0 + minute * MINUTE, "100", "1")


def test_a_bar_passes_only_if_it_closes_after_the_last_one() -> None:
    guard = FeedGuard()
    verdicts = [guard.admit(bar(m)) for m in (1, 2, 2, 1, 3)]
    assert verdicts == [True, True, False, False, True]
    assert guard.dropped == 2
    assert guard.last(AAPL, Bar) == T0 + 3 * MINUTE


def test_a_repeated_bar_with_other_prices_is_still_a_duplicate() -> None:
    guard = FeedGuard()
    assert guard.admit(bar(1, close="100"))
    assert not guard.admit(bar(1, close="101"))


def test_kinds_and_instruments_are_ordered_separately() -> None:
    guard = FeedGuard()
    events: list[MarketEvent] = [bar(5), quote(5), tick(5), bar(5, MSFT), quote(4), tick(4)]
    assert [guard.admit(e) for e in events] == [True, True, True, True, False, False]
    assert guard.dropped_by_kind() == {"Quote": 1, "TradeTick": 1}


def test_quotes_and_trades_may_share_a_second_but_a_repeated_trade_id_is_dropped() -> None:
    """Feeds stamp to the second: a second quote in the same second moves the mark, and
    several trades print in one second. Only the same trade id again is a repeat."""
    guard = FeedGuard()
    t = T0 + MINUTE
    assert guard.admit(Quote(AAPL, t, "100"))
    assert guard.admit(Quote(AAPL, t, "90"))
    assert guard.admit(TradeTick(AAPL, t, "100", "1", trade_id="A"))
    assert guard.admit(TradeTick(AAPL, t, "100", "2", trade_id="B"))
    assert not guard.admit(TradeTick(AAPL, t, "100", "1", trade_id="A"))
    assert guard.admit(TradeTick(AAPL, t + MINUTE, "101", "1", trade_id="A"))
    assert guard.dropped_by_kind() == {"TradeTick": 1}


def test_a_failing_sink_is_logged_and_the_next_event_still_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[MarketEvent] = []

    def fragile(event: MarketEvent) -> None:
        if event_time(event) == T0 + MINUTE:
            raise RuntimeError("a strategy bug")
        seen.append(event)

    sink = FeedGuard().wrap(fragile, "test")
    sink(bar(1))
    sink(bar(2))
    assert [event_time(e) for e in seen] == [T0 + 2 * MINUTE]
    assert "a strategy bug" in caplog.text


def test_wrap_hands_on_only_what_it_admits() -> None:
    guard = FeedGuard()
    seen: list[MarketEvent] = []
    sink = guard.wrap(seen.append)
    for minute in (1, 3, 2, 3, 4):
        sink(bar(minute))
    assert [event_time(e) for e in seen] == [T0 + m * MINUTE for m in (1, 3, 4)]
    assert guard.dropped == 2


def test_reset_forgets_the_last_times_but_keeps_the_counts() -> None:
    guard = FeedGuard()
    guard.admit(bar(2))
    guard.admit(bar(1))
    guard.reset()
    assert guard.admit(bar(1))
    assert guard.dropped == 1


def test_event_time_is_the_close_for_a_bar_and_the_stamp_otherwise() -> None:
    assert event_time(bar(2)) == T0 + 2 * MINUTE
    assert event_time(quote(3)) == T0 + 3 * MINUTE
    assert event_time(tick(4)) == T0 + 4 * MINUTE
