"""The replay feed: events in time order, the gaps scaled by the speed, the subscription
honoured, an endless mode whose timestamps keep increasing, a prompt stop, and a synchronous
iterator for backtests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from algodesk.adapters.feeds.guard import event_time
from algodesk.adapters.feeds.replay import ReplayFeed
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar, Quote
from algodesk.ports.market_data import FeedState, MarketEvent
from tests.conftest import T0

AAPL = InstrumentId("AAPL.NASDAQ")
MSFT = InstrumentId("MSFT.NASDAQ")
MINUTE = timedelta(minutes=1)


def bar(minute: int, instrument_id: InstrumentId = AAPL) -> Bar:
    price = str(100 + minute)
    return Bar(instrument_id, T0 + minute * MINUTE, price, price, price, price, "10")


class RecordingSleep:
    """An async sleep that only records how long it was asked to sleep."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def play(feed: ReplayFeed) -> list[MarketEvent]:
    seen: list[MarketEvent] = []
    asyncio.run(feed.run(seen.append))
    return seen


def test_as_fast_as_possible_it_delivers_everything_in_time_order_and_returns() -> None:
    half_past = T0 + MINUTE + timedelta(seconds=30)
    events: list[MarketEvent] = [bar(3), bar(1), Quote(AAPL, half_past, "101"), bar(2)]
    sleep = RecordingSleep()
    feed = ReplayFeed(events, sleep=sleep)
    seen = play(feed)
    assert [event_time(e) for e in seen] == [
        T0 + MINUTE,
        half_past,
        T0 + 2 * MINUTE,
        T0 + 3 * MINUTE,
    ]
    assert sleep.delays == []
    assert feed.state is FeedState.STOPPED


def test_at_speed_n_it_sleeps_the_gap_divided_by_n() -> None:
    sleep = RecordingSleep()
    feed = ReplayFeed([bar(1), bar(2), bar(4)], speed=60, sleep=sleep)
    assert len(play(feed)) == 3
    assert sleep.delays == pytest.approx([1.0, 2.0])


def test_an_unsubscribed_instrument_is_skipped_without_losing_its_time() -> None:
    sleep = RecordingSleep()
    feed = ReplayFeed([bar(1), bar(2, MSFT), bar(3)], speed=60, sleep=sleep)
    feed.unsubscribe([MSFT])
    seen = play(feed)
    assert [e.instrument_id for e in seen] == [AAPL, AAPL]
    assert sleep.delays == pytest.approx([2.0])


def test_the_subscription_can_start_narrow_and_change_while_running() -> None:
    events = [bar(m, AAPL if m % 2 else MSFT) for m in range(1, 7)]
    feed = ReplayFeed(events, instruments=[AAPL])
    seen: list[MarketEvent] = []

    def sink(event: MarketEvent) -> None:
        seen.append(event)
        if event_time(event) == T0 + 3 * MINUTE:
            feed.subscribe([MSFT])

    asyncio.run(feed.run(sink))
    assert [(e.instrument_id, event_time(e)) for e in seen] == [
        (AAPL, T0 + 1 * MINUTE),
        (AAPL, T0 + 3 * MINUTE),
        (MSFT, T0 + 4 * MINUTE),
        (AAPL, T0 + 5 * MINUTE),
        (MSFT, T0 + 6 * MINUTE),
    ]


def test_duplicates_in_the_data_are_dropped_by_the_guard() -> None:
    feed = ReplayFeed([bar(1), bar(1), bar(2)])
    assert len(play(feed)) == 2
    assert feed.guard.dropped == 1


def test_looping_shifts_each_lap_so_timestamps_keep_increasing() -> None:
    feed = ReplayFeed([bar(1), bar(2), bar(3), bar(1, MSFT)], loop=True)
    seen: list[MarketEvent] = []

    def sink(event: MarketEvent) -> None:
        seen.append(event)
        if len(seen) == 10:
            feed.stop()

    asyncio.run(feed.run(sink))
    aapl = [e for e in seen if e.instrument_id == AAPL]
    # each lap is [AAPL, MSFT, AAPL, AAPL]: ten events are two laps and a half
    assert [event_time(e) - T0 for e in aapl] == [m * MINUTE for m in range(1, 8)]
    # the lap is the span (2 minutes) plus one step (1 minute): bar 1 comes back as bar 4
    assert isinstance(aapl[3], Bar)
    assert aapl[3].close == bar(1).close
    assert len(seen) == 10
    assert feed.guard.dropped == 0


def test_a_loop_over_data_with_no_spacing_needs_a_loop_gap() -> None:
    with pytest.raises(ValueError, match="needs a positive loop_gap"):
        ReplayFeed([bar(1)], loop=True)
    feed = ReplayFeed([bar(1)], loop=True, loop_gap=MINUTE)
    seen: list[MarketEvent] = []

    def sink(event: MarketEvent) -> None:
        seen.append(event)
        if len(seen) == 3:
            feed.stop()

    asyncio.run(feed.run(sink))
    assert [event_time(e) for e in seen] == [T0 + m * MINUTE for m in (1, 2, 3)]


def test_stop_ends_a_long_sleep_at_once() -> None:
    feed = ReplayFeed([bar(1), bar(600)], speed=1.0)  # ten hours between the two bars

    async def scenario() -> list[MarketEvent]:
        seen: list[MarketEvent] = []
        run = asyncio.create_task(feed.run(seen.append))
        while not seen:
            await asyncio.sleep(0.001)
        feed.stop()
        await asyncio.wait_for(run, timeout=1.0)
        return seen

    assert len(asyncio.run(scenario())) == 1
    assert feed.state is FeedState.STOPPED


def test_a_cancellation_from_outside_is_not_swallowed() -> None:
    feed = ReplayFeed([bar(1), bar(600)], speed=1.0)

    async def scenario() -> asyncio.Task[None]:
        run = asyncio.create_task(feed.run(lambda e: None))
        await asyncio.sleep(0.01)
        run.cancel()
        await asyncio.wait({run})
        return run

    assert asyncio.run(scenario()).cancelled()


def test_as_fast_as_possible_it_still_lets_other_tasks_run() -> None:
    events = [bar(m) for m in range(1, 2001)]
    feed = ReplayFeed(events, loop=True, yield_every=100)

    async def scenario() -> int:
        seen: list[MarketEvent] = []
        run = asyncio.create_task(feed.run(seen.append))
        await asyncio.sleep(0)
        feed.stop()
        await asyncio.wait_for(run, timeout=1.0)
        return len(seen)

    assert asyncio.run(scenario()) <= 100


def test_iterating_gives_one_filtered_pass_synchronously() -> None:
    feed = ReplayFeed([bar(2), bar(1), bar(1), bar(1, MSFT)], speed=1.0, loop=True)
    feed.unsubscribe([MSFT])
    assert [event_time(e) for e in feed] == [T0 + MINUTE, T0 + 2 * MINUTE]
    assert list(feed) == list(feed)


def test_a_bad_speed_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="expected speed > 0 or None, was 0"):
        ReplayFeed([], speed=0)


def test_stop_twice_ends_the_run_quietly() -> None:
    feed = ReplayFeed([bar(1), bar(600)], speed=1.0)

    async def scenario() -> None:
        seen: list[MarketEvent] = []
        run = asyncio.create_task(feed.run(seen.append))
        while not seen:
            await asyncio.sleep(0.001)
        feed.stop()
        feed.stop()
        await asyncio.wait_for(run, timeout=1.0)  # raises if a CancelledError escaped

    asyncio.run(scenario())
    assert feed.state is FeedState.STOPPED


def test_a_loop_with_nothing_subscribed_idles_instead_of_spinning() -> None:
    slept: list[float] = []
    feed: ReplayFeed

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            feed.stop()

    feed = ReplayFeed([bar(1), bar(2)], loop=True, sleep=sleep)
    feed.unsubscribe([bar(1).instrument_id])
    asyncio.run(asyncio.wait_for(feed.run(lambda e: None), timeout=5))
    assert slept == [0.05, 0.05, 0.05]  # each empty lap waits instead of spinning
