"""Bars from ticks and from shorter bars: bucket edges, no look-ahead, exact OHLCV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.bars import BarAggregator, bucket_end, bucket_start, resample
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar, Quote, TradeTick

IID = InstrumentId("NIFTY_50.NSE")
IST = timedelta(hours=5, minutes=30)
M1, H1, D1, W1 = (Timeframe.parse(t) for t in ("1m", "1h", "1d", "1w"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def trade(ts: str, px: str, qty: str = "1") -> TradeTick:
    return TradeTick(IID, at(ts), Decimal(px), Decimal(qty))


def test_timeframes_parse_and_print() -> None:
    assert [str(Timeframe.parse(t)) for t in ("1m", "60m", "4H", "1d", "7d", "1w")] == [
        "1m", "1h", "4h", "1d", "1w", "1w",
    ]  # fmt: skip
    for bad in ("", "1", "m", "0m", "1M", "1y"):
        with pytest.raises(ValueError, match=r"timeframe|months|positive"):
            Timeframe.parse(bad)


def test_bucket_edges_utc_and_ist() -> None:
    assert bucket_end(at("2026-11-20T10:00:00"), M1) == at("2026-11-20T10:01:00")
    assert bucket_end(at("2026-11-20T10:00:59.999"), M1) == at("2026-11-20T10:01:00")
    # A day in IST runs from 18:30 UTC to 18:30 UTC.
    assert bucket_start(at("2026-11-20T18:29:59"), D1, IST) == at("2026-11-19T18:30:00")
    assert bucket_start(at("2026-11-20T18:30:00"), D1, IST) == at("2026-11-20T18:30:00")
    # Weeks start on Monday: Friday 2026-11-20 belongs to the week of Monday 2026-11-16.
    assert bucket_start(at("2026-11-20T12:00:00"), W1) == at("2026-11-16T00:00:00")
    with pytest.raises(ValueError, match="1d or whole weeks"):
        bucket_start(at("2026-11-20T12:00:00"), Timeframe.parse("2d"))


def test_aggregator_builds_exact_ohlcv_and_closes_on_the_next_bucket() -> None:
    agg = BarAggregator(M1)
    assert agg.add(trade("2026-11-20T10:00:05", "100.05", "2")) == []
    assert agg.add(trade("2026-11-20T10:00:30", "101.10", "3")) == []
    assert agg.add(Quote(IID, at("2026-11-20T10:00:40"), Decimal("99.95"))) == []
    assert agg.add(trade("2026-11-20T10:00:59", "100.50", "1")) == []
    [bar] = agg.add(trade("2026-11-20T10:02:10", "100.70"))
    assert bar == Bar(
        IID, at("2026-11-20T10:01:00"), Decimal("100.05"), Decimal("101.10"),
        Decimal("99.95"), Decimal("100.50"), Decimal(6),
    )  # fmt: skip
    # No bar for the empty minute 10:01; the 10:02 bar closes on the clock.
    assert agg.close_due(at("2026-11-20T10:02:59")) == []
    [bar2] = agg.close_due(at("2026-11-20T10:03:00"))
    assert (bar2.ts_close, bar2.open, bar2.volume) == (
        at("2026-11-20T10:03:00"),
        Decimal("100.70"),
        1,
    )


def test_aggregator_ignores_ticks_for_a_bucket_already_emitted() -> None:
    agg = BarAggregator(M1)
    agg.add(trade("2026-11-20T10:00:05", "100"))
    agg.add(trade("2026-11-20T10:01:05", "101"))  # emits 10:01
    assert agg.add(trade("2026-11-20T10:00:50", "250")) == []
    assert agg.late == 1
    [bar] = agg.close_due(at("2026-11-20T10:02:00"))
    assert bar.high == Decimal(101)


def hourly(day: str, closes: list[str]) -> list[Bar]:
    """NSE-like hourly bars from 09:15 IST (03:45 UTC)."""
    start = at(f"{day}T03:45:00")
    out = []
    for n, c in enumerate(closes):
        px = Decimal(c)
        out.append(Bar(IID, start + timedelta(hours=n + 1), px, px + 1, px - 1, px, Decimal(10)))
    return out


def test_resample_hours_to_ist_days_drops_the_unfinished_day() -> None:
    bars = hourly("2026-11-19", ["100", "102", "101"]) + hourly("2026-11-20", ["103", "104"])
    days = resample(bars, H1, D1, IST)
    assert [(d.ts_close, d.open, d.high, d.low, d.close, d.volume) for d in days] == [
        (at("2026-11-19T18:30:00"), 100, 103, 99, 101, 30),
    ]
    # Once the day is known complete (its session closed), it is included.
    days = resample(bars, H1, D1, IST, complete_until=at("2026-11-20T18:30:00"))
    assert [d.close for d in days] == [Decimal(101), Decimal(104)]


def test_resample_days_to_weeks_and_refuses_bad_input() -> None:
    daily = [
        Bar(IID, at(f"2026-11-{d:02d}T00:00:00") + timedelta(days=1), Decimal(d), Decimal(d + 1),
            Decimal(d - 1), Decimal(d), Decimal(1))
        for d in (16, 17, 18, 19, 20, 23)
    ]  # fmt: skip
    [week] = resample(daily, D1, W1)
    assert (week.ts_close, week.open, week.close, week.high, week.low) == (
        at("2026-11-23T00:00:00"), Decimal(16), Decimal(20), Decimal(21), Decimal(15),
    )  # fmt: skip
    with pytest.raises(ValueError, match="not a multiple"):
        resample(daily, W1, D1)
    with pytest.raises(ValueError, match="time order"):
        resample(list(reversed(daily)), D1, W1)


@given(
    closes=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=200),
    cut=st.integers(min_value=0, max_value=200),
)
def test_resampled_bars_never_change_when_later_data_arrives(closes: list[int], cut: int) -> None:
    """No look-ahead: every bar resampled from a prefix of the data equals the bar resampled
    from all of it."""
    start = at("2026-11-16T00:00:00")
    bars = [
        Bar(IID, start + timedelta(minutes=15 * (n + 1)), Decimal(c), Decimal(c), Decimal(c),
            Decimal(c), Decimal(1))
        for n, c in enumerate(closes)
    ]  # fmt: skip
    m15 = Timeframe.parse("15m")
    full = {b.ts_close: b for b in resample(bars, m15, H1)}
    for b in resample(bars[: max(cut, 1)], m15, H1):
        assert full[b.ts_close] == b
