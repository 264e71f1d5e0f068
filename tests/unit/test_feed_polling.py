"""The polling feed: events from each poll, oldest first and never twice; errors and timeouts
counted and backed off; STREAMING while polls work, DOWN while they fail; stopped at once, even
mid-call, and restartable after its task is cancelled (as the WebSocket fallback does)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from algodesk.adapters.feeds.backoff import Backoff, Jitter
from algodesk.adapters.feeds.guard import event_time
from algodesk.adapters.feeds.polling import PollingFeed
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar
from algodesk.ports.market_data import FeedState, MarketEvent
from tests.conftest import T0

AAPL = InstrumentId("AAPL.NASDAQ")
MSFT = InstrumentId("MSFT.NASDAQ")
MINUTE = timedelta(minutes=1)
HANG = "hang"


def bar(minute: int, instrument_id: InstrumentId = AAPL) -> Bar:
    price = str(100 + minute)
    return Bar(instrument_id, T0 + minute * MINUTE, price, price, price, price, "10")


Step = list[MarketEvent] | Exception | str


class ScriptedQuotes:
    """A quote function that answers from a script (events, an error, or a hang), records
    what it was asked, and stops the feed when the script runs out."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.calls: list[list[InstrumentId]] = []
        self.feed: PollingFeed | None = None
        self.states: list[FeedState] = []
        self.backoff_attempts: list[int] = []

    async def __call__(self, instruments: list[InstrumentId]) -> Sequence[MarketEvent]:
        if self.feed is not None:
            self.states.append(self.feed.state)
            self.backoff_attempts.append(self.feed.backoff.attempts)
        self.calls.append(list(instruments))
        if not self.steps:
            if self.feed is not None:
                self.feed.stop()
            return []
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if step == HANG:
            await asyncio.sleep(3600)
        assert isinstance(step, list)
        return step


def polling(quotes: ScriptedQuotes, **kwargs: float) -> PollingFeed:
    feed = PollingFeed(
        quotes,
        interval=kwargs.get("interval", 0.001),
        timeout=kwargs.get("timeout", 0.05),
        backoff=Backoff(0.001, 0.004, jitter=Jitter.NONE),
    )
    quotes.feed = feed
    feed.subscribe([AAPL, MSFT])
    return feed


def run(feed: PollingFeed) -> list[MarketEvent]:
    seen: list[MarketEvent] = []
    asyncio.run(asyncio.wait_for(feed.run(seen.append), timeout=5))
    return seen


def test_each_poll_delivers_only_new_events_oldest_first() -> None:
    quotes = ScriptedQuotes(
        [bar(2), bar(1), bar(1, MSFT)],
        [bar(1), bar(2), bar(3), bar(2, MSFT)],  # an overlapping window, as REST APIs return
    )
    feed = polling(quotes)
    seen = run(feed)
    assert [(e.instrument_id, event_time(e) - T0) for e in seen] == [
        (AAPL, 1 * MINUTE),
        (MSFT, 1 * MINUTE),
        (AAPL, 2 * MINUTE),
        (MSFT, 2 * MINUTE),
        (AAPL, 3 * MINUTE),
    ]
    assert feed.polls == 3
    assert feed.guard.dropped == 2
    assert quotes.calls[0] == [AAPL, MSFT]
    assert feed.state is FeedState.STOPPED


def test_events_of_instruments_not_subscribed_are_not_delivered() -> None:
    quotes = ScriptedQuotes([bar(1), bar(1, MSFT)])
    feed = polling(quotes)
    feed.unsubscribe([MSFT])
    assert [e.instrument_id for e in run(feed)] == [AAPL]
    assert quotes.calls[0] == [AAPL]


def test_errors_are_counted_backed_off_and_the_state_follows_the_polls() -> None:
    quotes = ScriptedQuotes(
        [bar(1)], ConnectionError("refused"), ValueError("bad body"), [bar(2)], [bar(3)]
    )
    feed = polling(quotes)
    seen = run(feed)
    assert [event_time(e) - T0 for e in seen] == [MINUTE, 2 * MINUTE, 3 * MINUTE]
    assert feed.errors == 2
    assert feed.timeouts == 0
    # the state each call found: starting, streaming, down twice, then streaming again
    assert quotes.states == [
        FeedState.STARTING,
        FeedState.STREAMING,
        FeedState.DOWN,
        FeedState.DOWN,
        FeedState.STREAMING,
        FeedState.STREAMING,
    ]
    assert feed.backoff.attempts == 0  # reset by the success after the errors


def test_the_backoff_grows_while_polls_keep_failing() -> None:
    quotes = ScriptedQuotes(*(OSError("down") for _ in range(4)))
    feed = polling(quotes)
    run(feed)
    assert feed.errors == 4
    assert quotes.backoff_attempts == [0, 1, 2, 3, 4]
    assert feed.state is FeedState.STOPPED


def test_a_hanging_call_times_out_and_counts_as_an_error() -> None:
    quotes = ScriptedQuotes(HANG, [bar(1)])
    feed = polling(quotes, timeout=0.02)
    seen = run(feed)
    assert feed.timeouts == 1
    assert feed.errors == 1
    assert len(seen) == 1


def test_with_no_instruments_it_does_not_call() -> None:
    quotes = ScriptedQuotes()
    feed = PollingFeed(quotes, interval=0.001)

    async def scenario() -> None:
        run = asyncio.create_task(feed.run(lambda e: None))
        await asyncio.sleep(0.02)
        feed.stop()
        await asyncio.wait_for(run, timeout=1)

    asyncio.run(scenario())
    assert quotes.calls == []


def test_stop_ends_a_hanging_call_at_once() -> None:
    quotes = ScriptedQuotes(HANG)
    feed = polling(quotes, timeout=60)

    async def scenario() -> None:
        run = asyncio.create_task(feed.run(lambda e: None))
        while not quotes.calls:
            await asyncio.sleep(0.001)
        feed.stop()
        await asyncio.wait_for(run, timeout=1)

    asyncio.run(scenario())
    assert feed.state is FeedState.STOPPED


def test_cancelled_like_a_fallback_it_can_run_again() -> None:
    quotes = ScriptedQuotes([bar(1)], [bar(2)])
    feed = polling(quotes, interval=0.01)
    quotes.feed = None  # the script must not stop the feed: its owner cancels it

    async def scenario() -> list[MarketEvent]:
        seen: list[MarketEvent] = []
        for _ in range(2):
            task = asyncio.create_task(feed.run(seen.append))
            while len(seen) < len(quotes.calls) or not quotes.calls:
                await asyncio.sleep(0.001)
            task.cancel()
            await asyncio.wait({task})
            assert task.cancelled()
            assert feed.state is FeedState.STOPPED
        assert await feed.poll_once(seen.append)
        return seen

    seen = asyncio.run(scenario())
    assert [event_time(e) - T0 for e in seen] == [MINUTE, 2 * MINUTE]


def test_a_cancel_arriving_as_a_call_completes_still_ends_the_run() -> None:
    """Regression: with ``asyncio.wait_for`` on Python 3.11 the cancel was swallowed and the
    WebSocket feed waited forever for its fallback to stop."""

    async def scenario() -> list[int]:
        calls_after_cancel = []
        for _ in range(20):
            quotes = ScriptedQuotes([bar(1)])
            feed = polling(quotes)
            quotes.feed = None  # an empty script answers [] for ever and never stops the feed
            task = asyncio.create_task(feed.run(lambda e: None))
            while not quotes.calls:
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)
            calls_after_cancel.append(len(quotes.calls) - 1)
            feed.stop()
            await asyncio.wait({task})
        return calls_after_cancel

    assert asyncio.run(scenario()) == [0] * 20


def test_poll_once_says_whether_the_call_worked() -> None:
    quotes = ScriptedQuotes(RuntimeError("boom"), [bar(1)])
    feed = polling(quotes)
    seen: list[MarketEvent] = []

    async def scenario() -> list[bool]:
        return [await feed.poll_once(seen.append), await feed.poll_once(seen.append)]

    assert asyncio.run(scenario()) == [False, True]
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0.0}, "expected interval > 0 seconds, was 0.0"),
        ({"timeout": -1.0}, "expected timeout > 0 seconds, was -1.0"),
    ],
)
def test_bad_settings_are_refused_with_the_value(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PollingFeed(ScriptedQuotes(), **kwargs)


def test_a_malformed_answer_is_a_failed_poll_not_the_end_of_the_feed() -> None:
    quotes = ScriptedQuotes(None, [bar(1)])  # type: ignore[arg-type]
    feed = polling(quotes)
    seen = run(feed)
    assert [event_time(e) for e in seen] == [T0 + MINUTE]
    assert feed.errors == 1


def test_a_failing_sink_does_not_stop_polling() -> None:
    quotes = ScriptedQuotes([bar(1)], [bar(2)])
    feed = polling(quotes)
    seen: list[MarketEvent] = []

    def fragile(event: MarketEvent) -> None:
        seen.append(event)
        raise RuntimeError("a strategy bug")

    asyncio.run(asyncio.wait_for(feed.run(fragile), timeout=5))
    assert [event_time(e) for e in seen] == [T0 + MINUTE, T0 + 2 * MINUTE]


def test_stop_twice_still_ends_the_run_quietly() -> None:
    quotes = ScriptedQuotes(HANG)
    feed = polling(quotes, timeout=60)

    async def scenario() -> None:
        task = asyncio.create_task(feed.run(lambda e: None))
        while not quotes.calls:
            await asyncio.sleep(0.001)
        feed.stop()
        feed.stop()
        await asyncio.wait_for(task, timeout=1)  # raises if a CancelledError escaped

    asyncio.run(scenario())
    assert feed.state is FeedState.STOPPED
