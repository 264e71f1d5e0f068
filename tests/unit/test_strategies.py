"""The built-in strategies: indicators against plain loops (the real NVDA series and hand-made
ones), no look-ahead, the trend filter, ``on_bar`` decisions and parameter errors."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algodesk.adapters.feeds.csv_bars import read_bars_csv
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar
from algodesk.strategies import build_strategy
from algodesk.strategies.base import BarData, ParamError, Sizing, Strategy
from algodesk.strategies.breakout import Breakout, BreakoutParams
from algodesk.strategies.rsi_reversion import RsiReversion, RsiReversionParams, bracket_prices
from algodesk.strategies.sma_cross import SmaCross, SmaCrossParams, cross_signs, exact_sma_sign
from algodesk.strategies.trend import trend_up

NVDA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nvda-1999-2014.txt"
IID = InstrumentId("NVDA.BT")
D1 = Timeframe.parse("1d")
NAN = math.nan


@cache
def nvda() -> BarData:
    return BarData(IID, D1, read_bars_csv(NVDA_FILE, IID, D1))


def daily(
    days: Sequence[date],
    closes: Sequence[str | float],
    highs: Sequence[str | float] | None = None,
    lows: Sequence[str | float] | None = None,
) -> BarData:
    """Daily bars (UTC days) on ``days``; flat bars (O=H=L=C) unless highs / lows are given."""
    bars = []
    for i, (day, c) in enumerate(zip(days, closes, strict=True)):
        close = Decimal(str(c))
        high = Decimal(str(highs[i])) if highs else close
        low = Decimal(str(lows[i])) if lows else close
        ts = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        bars.append(Bar(IID, ts, close, high, low, close, Decimal(0)))
    return BarData(IID, D1, bars)


def consecutive(closes: Sequence[str | float], **kw: Any) -> BarData:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(len(closes))]
    return daily(days, closes, **kw)


def weekdays(weeks: int, start: date = date(2024, 1, 1)) -> list[date]:
    """Monday to Friday of ``weeks`` weeks from ``start`` (a Monday)."""
    return [start + timedelta(weeks=w, days=d) for w in range(weeks) for d in range(5)]


def column(indicators: Mapping[str, Any], name: str) -> np.ndarray[Any, Any]:
    return np.asarray(indicators[name])


# -- plain loops, written from the definitions -------------------------------------------------


def loop_rsi(closes: Sequence[float], n: int) -> list[float]:
    out = [NAN] * len(closes)
    if len(closes) <= n:
        return out
    changes = [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gain = sum(max(d, 0.0) for d in changes[:n]) / n
    loss = sum(max(-d, 0.0) for d in changes[:n]) / n
    for t in range(n, len(closes)):
        if t > n:
            d = changes[t - 1]
            gain = (gain * (n - 1) + max(d, 0.0)) / n
            loss = (loss * (n - 1) + max(-d, 0.0)) / n
        out[t] = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
    return out


def loop_channel(values: Sequence[float], n: int, pick: Any) -> list[float]:
    return [pick(values[t - n : t]) if t >= n else NAN for t in range(len(values))]


def loop_swings(values: Sequence[float], s: int, *, high: bool) -> list[float]:
    """Latest swing confirmed by each bar: bar i beats its s neighbours on both sides strictly,
    known at i + s."""
    out = [NAN] * len(values)
    latest = NAN
    for t in range(len(values)):
        i = t - s
        if i - s >= 0:
            others = [values[j] for j in range(i - s, i + s + 1) if j != i]
            if (high and all(values[i] > v for v in others)) or (
                not high and all(values[i] < v for v in others)
            ):
                latest = values[i]
        out[t] = latest
    return out


def loop_trend(data: BarData, length: int) -> list[bool]:
    """Weekly trend from the bars' own calendar: a week (from Monday, UTC) is complete at the bar
    that ends it, or else at the first bar of a later week."""
    week_closes: list[Decimal] = []
    out = []
    current: date | None = None
    last_close = Decimal(0)
    for bar in data.bars:
        start = (bar.ts_close - timedelta(days=1)).date()
        week = start - timedelta(days=start.weekday())
        if current is not None and week != current:
            week_closes.append(last_close)
        current, last_close = week, bar.close
        if bar.ts_close.date() >= week + timedelta(days=7):  # a Sunday bar ends its week
            week_closes.append(last_close)
            current = None
        window = week_closes[-length:]
        out.append(len(window) == length and window[-1] * length > sum(window))
    return out


def fraction_signs(closes: Sequence[Decimal], fast: int, slow: int) -> list[int]:
    out = []
    for t in range(len(closes)):
        if t < slow - 1:
            out.append(0)
            continue
        f = sum(Fraction(c) for c in closes[t - fast + 1 : t + 1]) / fast
        s = sum(Fraction(c) for c in closes[t - slow + 1 : t + 1]) / slow
        out.append((f > s) - (f < s))
    return out


def loop_crosses(signs: Sequence[int]) -> list[int]:
    out, held = [], 0
    for s in signs:
        if s != 0 and held not in (0, s):
            out.append(s)
        else:
            out.append(0)
        held = s or held
    return out


# -- RSI ---------------------------------------------------------------------------------------


def test_rsi_by_hand() -> None:
    data = consecutive([10, 11, 12, 11, 13])  # changes +1 +1 −1 +2
    rsi = column(RsiReversion(RsiReversionParams(length=2)).indicators(data), "rsi")
    # bar 2: gain 1, loss 0 → 100; bar 3: 0.5 / 0.5 → 50; bar 4: 1.25 / 0.25 → 100 − 100/6
    np.testing.assert_allclose(rsi, [NAN, NAN, 100, 50, 100 - 100 / 6], rtol=1e-12)
    flat = column(
        RsiReversion(RsiReversionParams(length=3)).indicators(consecutive([5] * 6)), "rsi"
    )
    np.testing.assert_array_equal(flat, [NAN, NAN, NAN, 100, 100, 100])


@pytest.mark.parametrize("length", [2, 14, 30])
def test_rsi_and_its_signal_match_loops_on_nvda(length: int) -> None:
    p = RsiReversionParams(length=length, oversold=35, overbought=80, exit_level=55)
    out = RsiReversion(p).indicators(nvda())
    rsi = column(out, "rsi")
    closes = nvda().frame["close"].tolist()
    np.testing.assert_allclose(rsi, loop_rsi(closes, length), rtol=1e-9, atol=1e-9)
    expected = []
    for t, r in enumerate(rsi):
        if t > 0 and rsi[t - 1] >= 35 > r:
            expected.append(1)
        elif r > 55 or r > 80:
            expected.append(-1)
        else:
            expected.append(0)
    assert column(out, "signal").tolist() == expected
    assert (column(out, "signal") == 1).sum() > 5


def test_bracket_prices_round_away_from_the_entry() -> None:
    assert bracket_prices(Decimal("12.34"), 3, 2.5) == (Decimal("11.96"), Decimal("12.65"))
    assert bracket_prices(Decimal("12.00"), 5, 10) == (Decimal("11.40"), Decimal("13.20"))
    assert bracket_prices(Decimal(100), 0.5, 0) == (Decimal(99), None)
    assert bracket_prices(Decimal("0.01"), 60, 0) == (None, None)  # below one cent: no stop


# -- breakout ----------------------------------------------------------------------------------


# bars (high, low, close) built so that: swing high at 1 (confirmed 2), swing low at 2
# (confirmed 3), breakout at 4 above resistance 11, swing high at 5 (confirmed 6), exit at 6
HAND = [(10, 9, 9.5), (11, 9.5, 10.5), (10.5, 9, 9.8), (10.8, 9.6, 10.6), (12, 10.5, 11.8),
        (12.5, 11.5, 12.2), (12.3, 10, 10.2), (11, 9.8, 10.9)]  # fmt: skip


def hand_breakout() -> BarData:
    return consecutive(
        [c for _, _, c in HAND], highs=[h for h, _, _ in HAND], lows=[lo for _, lo, _ in HAND]
    )


def test_breakout_indicators_by_hand() -> None:
    p = BreakoutParams(channel=3, exit_channel=2, swing=1)
    out = Breakout(p).indicators(hand_breakout())
    np.testing.assert_array_equal(out["upper"], [NAN] * 3 + [11, 11, 12, 12.5, 12.5])
    np.testing.assert_array_equal(out["lower"], [NAN] * 3 + [9, 9, 9, 9.6, 10])
    np.testing.assert_array_equal(out["exit_lower"], [NAN] * 2 + [9, 9, 9, 9.6, 10.5, 10])
    np.testing.assert_array_equal(out["resistance"], [NAN] * 2 + [11] * 4 + [12.5] * 2)
    np.testing.assert_array_equal(out["support"], [NAN] * 3 + [9] * 5)
    assert column(out, "signal").tolist() == [0, 0, 0, 0, 1, 1, -1, 0]


def test_a_breakout_below_an_older_resistance_is_not_an_entry() -> None:
    data = hand_breakout()
    # with a 1-bar channel: bar 1 breaks bar 0's high (no resistance known yet); bar 3 closes
    # 10.6 above bar 2's high 10.5 but below the resistance 11 of the swing high at bar 1
    with_swings = Breakout(BreakoutParams(channel=1, exit_channel=1, swing=1)).indicators(data)
    plain = Breakout(BreakoutParams(channel=1, exit_channel=1, use_swings=False)).indicators(data)
    assert column(with_swings, "signal")[[1, 3]].tolist() == [1, 0]
    assert column(plain, "signal")[[1, 3]].tolist() == [1, 1]


def test_equal_neighbours_make_no_swing() -> None:
    data = consecutive([2, 3, 3, 2, 2, 2], highs=[2, 3, 3, 2, 2, 2], lows=[2, 3, 3, 2, 2, 2])
    out = Breakout(BreakoutParams(swing=1)).indicators(data)
    assert np.isnan(column(out, "resistance")).all()
    assert np.isnan(column(out, "support")).all()


@pytest.mark.parametrize(
    ("channel", "exit_channel", "swing"), [(20, 10, 3), (5, 12, 1), (55, 20, 5)]
)
def test_breakout_indicators_match_loops_on_nvda(
    channel: int, exit_channel: int, swing: int
) -> None:
    check_breakout_against_loops(nvda(), channel, exit_channel, swing, use_swings=True)
    check_breakout_against_loops(nvda(), channel, exit_channel, swing, use_swings=False)


def check_breakout_against_loops(
    data: BarData, channel: int, exit_channel: int, swing: int, *, use_swings: bool
) -> None:
    p = BreakoutParams(
        channel=channel, exit_channel=exit_channel, swing=swing, use_swings=use_swings
    )
    out = Breakout(p).indicators(data)
    high, low, close = (data.frame[c].tolist() for c in ("high", "low", "close"))
    upper = loop_channel(high, channel, max)
    exit_lower = loop_channel(low, exit_channel, min)
    resistance = loop_swings(high, swing, high=True)
    np.testing.assert_array_equal(out["upper"], upper)
    np.testing.assert_array_equal(out["lower"], loop_channel(low, channel, min))
    np.testing.assert_array_equal(out["exit_lower"], exit_lower)
    np.testing.assert_array_equal(out["resistance"], resistance)
    np.testing.assert_array_equal(out["support"], loop_swings(low, swing, high=False))
    expected = []
    for c, u, r, x in zip(close, upper, resistance, exit_lower, strict=True):
        if c > u and (not use_swings or math.isnan(r) or c > r):
            expected.append(1)
        elif c < x:
            expected.append(-1)
        else:
            expected.append(0)
    assert column(out, "signal").tolist() == expected


# -- trend filter ------------------------------------------------------------------------------


def test_trend_up_by_hand_on_weeks_of_weekdays() -> None:
    # five weeks Monday-Friday; each week closes at its Friday close. A Friday bar ends on
    # Saturday, before the week does, so a week is known at the next Monday's close.
    closes = [10] * 5 + [12] * 5 + [11] * 5 + [13] * 5 + [13] * 5
    data = daily(weekdays(5), closes)
    up = trend_up(data, "1w", 2)  # with 2 weeks: close above the mean of itself and the last
    # week 0 alone (known on week 1's Monday) is too few; week 1 (12 > 11) is known on week 2's
    # Monday, week 2 (11 < 11.5) on week 3's, week 3 (13 > 12) on week 4's; week 4 is unknown
    assert up.tolist() == [False] * 10 + [True] * 5 + [False] * 5 + [True] * 5
    # with every day present, the Sunday bar ends its week: known at once
    all_days = [date(2024, 1, 1) + timedelta(days=i) for i in range(21)]
    seven = daily(all_days, [10] * 7 + [12] * 7 + [11] * 7)
    assert trend_up(seven, "1w", 2).tolist() == [False] * 13 + [True] * 7 + [False]


def test_trend_up_averages_distinct_weeks_even_when_equal_and_a_tie_is_not_up() -> None:
    # weeks close 30, 5, 12, 12 (the last two identical in every field); with 3 weeks the
    # fourth week's close 12 is above (5 + 12 + 12) / 3 — counting both equal weeks
    data = daily(weekdays(5), [30] * 5 + [5] * 5 + [12] * 5 + [12] * 5 + [1] * 5)
    assert trend_up(data, "1w", 3).tolist() == [False] * 20 + [True] * 5
    # 10, 10: the close equals its average, not above it
    flat = daily(weekdays(3), [10] * 15)
    assert not trend_up(flat, "1w", 2).any()


def test_trend_up_matches_a_calendar_loop_on_nvda() -> None:
    for length in (1, 10, 40):
        assert trend_up(nvda(), "1w", length).tolist() == loop_trend(nvda(), length)


def test_trend_up_refuses_a_timeframe_not_above_the_data_and_a_bad_length() -> None:
    with pytest.raises(ValueError, match="expected a timeframe above"):
        trend_up(nvda(), "1d", 10)
    with pytest.raises(ValueError, match="expected >= 1, was 0"):
        trend_up(nvda(), "1w", 0)


# -- no look-ahead -----------------------------------------------------------------------------

STRATEGIES = {
    "rsi": RsiReversion(),
    "rsi-1w": RsiReversion(RsiReversionParams(trend="1w")),
    "breakout": Breakout(),
    "breakout-1w-plain": Breakout(BreakoutParams(trend="1w", use_swings=False)),
    "sma": SmaCross(),
    "sma-1w": SmaCross(SmaCrossParams(trend="1w")),
    "ema-1w": SmaCross(SmaCrossParams(kind="ema", trend="1w", trend_length=4)),
}


def assert_same_prefix(full: Mapping[str, Any], part: Mapping[str, Any], k: int) -> None:
    assert set(part) == set(full)
    for name, values in full.items():
        head = np.asarray(part[name])
        assert head.shape == (k,), name
        np.testing.assert_array_equal(head, np.asarray(values)[:k], err_msg=name)


@pytest.mark.parametrize("name", STRATEGIES)
def test_indicators_never_look_ahead(name: str) -> None:
    strategy, data = STRATEGIES[name], nvda()
    full = strategy.indicators(data)
    for k in (0, 1, 2, 14, 15, 21, 22, 60, 347, 1000, 2501, len(data) - 1):
        assert_same_prefix(full, strategy.indicators(data.head(k)), k)


# -- on_bar decisions --------------------------------------------------------------------------


@dataclass
class RecordingContext:
    """A :class:`BarContext` that records the strategy's calls; buys and sells fill at once."""

    instrument_id: InstrumentId
    indicators: Mapping[str, Any]
    index: int = 0
    bar: Bar | None = None
    position: Decimal = Decimal(0)
    cash: Decimal = Decimal(10_000)
    equity: Decimal = Decimal(10_000)
    working_orders: Sequence[str] = ()
    calls: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def time(self) -> datetime:
        assert self.bar is not None
        return self.bar.ts_close

    def value(self, name: str, offset: int = 0) -> Any:
        assert offset <= 0
        return self.indicators[name][self.index + offset]

    def buy(
        self,
        quantity: Decimal | None = None,
        *,
        sizing: Sizing | None = None,
        limit: Decimal | None = None,
        stop: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        tag: str = "",
    ) -> None:
        self.calls.append((self.index, "buy", {"quantity": quantity, "stop_loss": stop_loss,
                                               "take_profit": take_profit}))  # fmt: skip
        self.position += quantity or Decimal(1)

    def sell(
        self,
        quantity: Decimal | None = None,
        *,
        sizing: Sizing | None = None,
        limit: Decimal | None = None,
        stop: Decimal | None = None,
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        tag: str = "",
    ) -> None:
        self.calls.append((self.index, "sell", {"quantity": quantity}))
        self.position -= quantity or Decimal(1)

    def target(self, quantity: Decimal, *, tag: str = "") -> None:
        self.calls.append((self.index, "target", {"quantity": quantity}))

    def close(self, *, tag: str = "") -> None:
        self.calls.append((self.index, "close", {}))

    def cancel(self, order_id: str | None = None) -> None:
        self.calls.append((self.index, "cancel", {"order_id": order_id}))


def run(
    strategy: Strategy,
    data: BarData,
    *,
    every_bar: bool = False,
    override: Mapping[str, Any] | None = None,
) -> list[tuple[int, str, dict[str, Any]]]:
    indicators = {**strategy.indicators(data), **(override or {})}
    active = None if every_bar else strategy.active(data, indicators)
    ctx = RecordingContext(data.instrument_id, indicators)
    for t, bar in enumerate(data.bars):
        if active is None or active[t]:
            ctx.index, ctx.bar = t, bar
            strategy.on_bar(ctx)
    return ctx.calls


# closes: RSI(2) 100, 100, 50 at bars 2-4, crosses below 30 at bar 5 (16.7), 10 at bar 6,
# 73.5 at bar 7 (above 50: exit), 86.4 at bar 8
RSI_CLOSES = ["10.00", "11.00", "12.00", "13.00", "12.00", "10.00", "9.00", "12.00", "14.00"]


def test_rsi_reversion_enters_on_the_cross_below_and_exits_above_the_exit_level() -> None:
    data = consecutive(RSI_CLOSES)
    calls = run(RsiReversion(RsiReversionParams(length=2)), data)
    assert calls == [
        (5, "buy", {"quantity": None, "stop_loss": None, "take_profit": None}),
        (7, "sell", {"quantity": Decimal(1)}),
    ]
    bracket = RsiReversion(RsiReversionParams(length=2, stop_loss_pct=5, take_profit_pct=10))
    assert run(bracket, data)[0] == (
        5, "buy", {"quantity": None, "stop_loss": Decimal("9.50"), "take_profit": Decimal("11.00")},
    )  # fmt: skip
    # exit only at overbought 80 (exit_level above it): not 73.5 at bar 7, but 86.4 at bar 8
    late = RsiReversion(RsiReversionParams(length=2, exit_level=100, overbought=80))
    assert [c[:2] for c in run(late, data)] == [(5, "buy"), (8, "sell")]


def test_rsi_reversion_respects_the_trend_filter() -> None:
    data = consecutive(RSI_CLOSES)
    strategy = RsiReversion(RsiReversionParams(length=2, trend="1w", trend_length=1))
    blocked = np.zeros(len(data), dtype=bool)
    assert run(strategy, data, override={"trend_up": blocked}) == []
    allowed = np.ones(len(data), dtype=bool)
    assert [c[:2] for c in run(strategy, data, override={"trend_up": allowed})] == [
        (5, "buy"), (7, "sell"),
    ]  # fmt: skip


def test_breakout_buys_with_a_stop_at_support_and_exits_below_the_exit_channel() -> None:
    p = BreakoutParams(channel=3, exit_channel=2, swing=1)
    assert run(Breakout(p), hand_breakout()) == [
        (4, "buy", {"quantity": None, "stop_loss": Decimal(9), "take_profit": None}),
        (6, "sell", {"quantity": Decimal(1)}),
    ]
    plain = BreakoutParams(channel=3, exit_channel=2, swing=1, use_swings=False)
    assert run(Breakout(plain), hand_breakout())[0][2]["stop_loss"] is None


def test_breakout_stop_is_the_exact_support_price_on_nvda() -> None:
    calls = run(Breakout(), nvda())
    buys = [(t, kw["stop_loss"]) for t, kind, kw in calls if kind == "buy"]
    assert len(buys) > 10
    lows = nvda().exact("low")
    for t, stop in buys:
        assert stop is None or (stop in lows[:t] and stop < nvda().bars[t].close)


@pytest.mark.parametrize("name", STRATEGIES)
def test_skipping_inactive_bars_changes_no_decision(name: str) -> None:
    strategy = STRATEGIES[name]
    calls = run(strategy, nvda())
    assert calls == run(strategy, nvda(), every_bar=True)
    kinds = [kind for _, kind, _ in calls]
    assert kinds[:2] == ["buy", "sell"]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # flat, long, flat...


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        ("rsi_reversion", {"lenght": "3"}, "unknown parameter.*lenght.*length"),
        ("rsi_reversion", {"length": "abc"}, "parameter length: expected int, was 'abc'"),
        ("rsi_reversion", {"length": "0"}, "length: expected >= 1, was 0"),
        ("rsi_reversion", {"oversold": "70"}, "oversold, overbought: expected 0 < oversold <"),
        ("rsi_reversion", {"oversold": "nan"}, "parameter oversold: expected float"),
        ("rsi_reversion", {"exit_level": "20"}, "exit_level: expected above oversold"),
        ("rsi_reversion", {"stop_loss_pct": "100"}, "stop_loss_pct: expected 0"),
        ("rsi_reversion", {"take_profit_pct": "-1"}, "take_profit_pct: expected 0"),
        ("rsi_reversion", {"trend": "3x"}, "trend: expected a timeframe"),
        ("rsi_reversion", {"trend_length": "0"}, "trend_length: expected >= 1, was 0"),
        ("breakout", {"channel": "0"}, "channel: expected a number of bars >= 1, was 0"),
        ("breakout", {"swing": "-2"}, "swing: expected a number of bars >= 1, was -2"),
        ("breakout", {"use_swings": "maybe"}, "parameter use_swings: expected bool"),
        ("breakout", {"trend": "1M"}, "trend: '1M': months"),
    ],
)
def test_bad_parameters_name_the_parameter(name: str, given: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError, match=message):
        build_strategy(name, given)


def test_parameters_parse_from_text() -> None:
    s = build_strategy("rsi_reversion", {"length": "7", "stop_loss_pct": "2.5", "trend": "1w"})
    assert s.params == RsiReversionParams(length=7, stop_loss_pct=2.5, trend="1w")
    b = build_strategy("breakout", {"use_swings": "false", "channel": "55"})
    assert b.params == BreakoutParams(channel=55, use_swings=False)


# -- sma_cross's exact sign --------------------------------------------------------------------


def test_a_tie_keeps_the_previous_sign() -> None:
    # SMA(1) = SMA(2) exactly when a close repeats the one before
    closes = [Decimal(c) for c in ("1", "2", "2", "1", "1", "3", "3", "4")]
    signs = exact_sma_sign(closes, 1, 2)
    assert signs.tolist() == [0, 1, 0, -1, 0, 1, 0, 1]
    assert cross_signs(signs, 1).tolist() == [0, 0, 0, -1, 0, 1, 0, 0]
    # a tie floats get wrong: SMA(2) of 0.1, 0.2 and SMA(4) of 0.3, 0, 0.1, 0.2 are both 0.15
    tie = [Decimal(c) for c in ("0.3", "0", "0.1", "0.2")]
    assert exact_sma_sign(tie, 2, 4).tolist() == [0, 0, 0, 0]
    assert exact_sma_sign(tie[:3], 2, 4).tolist() == [0, 0, 0]  # too short: undefined


def test_the_first_defined_sign_is_never_a_cross() -> None:
    signs = np.array([0, 0, -1, 1, 1, -1], dtype=np.int8)
    assert cross_signs(signs, 2).tolist() == [0, 0, 0, 1, 0, -1]
    tie_first = np.array([0, 0, 0, 1, -1], dtype=np.int8)  # the first nonzero sign sets it
    assert cross_signs(tie_first, 2).tolist() == [0, 0, 0, 0, -1]


@pytest.mark.parametrize(("fast", "slow"), [(10, 20), (5, 30)])
def test_exact_sma_sign_and_crosses_match_a_fraction_loop_on_nvda(fast: int, slow: int) -> None:
    closes = nvda().exact("close")
    expected = fraction_signs(closes, fast, slow)
    signs = exact_sma_sign(closes, fast, slow)
    assert signs.tolist() == expected
    crosses = cross_signs(signs, slow - 1)
    assert crosses.tolist() == loop_crosses(expected)
    out = SmaCross(SmaCrossParams(fast=fast, slow=slow)).indicators(nvda())
    assert column(out, "cross").tolist() == crosses.tolist()
    assert (crosses != 0).sum() > 50


# -- random series -----------------------------------------------------------------------------


@st.composite
def random_bars(draw: st.DrawFn) -> BarData:
    n = draw(st.integers(1, 80))
    cents = draw(st.lists(st.integers(100, 140), min_size=n, max_size=n))
    ups = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    downs = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    days, day = [], date(2024, 1, draw(st.integers(1, 7)))
    for g in gaps:
        days.append(day)
        day += timedelta(days=g)
    closes = [Decimal(c).scaleb(-2) for c in cents]
    return daily(
        days,
        [str(c) for c in closes],
        highs=[str(c + Decimal(u).scaleb(-2)) for c, u in zip(closes, ups, strict=True)],
        lows=[str(c - Decimal(d).scaleb(-2)) for c, d in zip(closes, downs, strict=True)],
    )


@settings(deadline=None, max_examples=60)
@given(data=random_bars(), length=st.integers(1, 6), swing=st.integers(1, 3), k=st.integers(0, 80))
def test_random_series_match_the_loops_and_never_look_ahead(
    data: BarData, length: int, swing: int, k: int
) -> None:
    closes = data.frame["close"].tolist()
    rsi = column(RsiReversion(RsiReversionParams(length=length)).indicators(data), "rsi")
    np.testing.assert_allclose(rsi, loop_rsi(closes, length), rtol=1e-9, atol=1e-9)
    check_breakout_against_loops(data, length, length + 1, swing, use_swings=True)
    assert trend_up(data, "1w", length).tolist() == loop_trend(data, length)
    if len(data) >= 2:
        fast, slow = 1, min(len(data), length + 1)
        signs = exact_sma_sign(data.exact("close"), fast, slow)
        assert signs.tolist() == fraction_signs(data.exact("close"), fast, slow)
    k = min(k, len(data))
    for strategy in (
        RsiReversion(RsiReversionParams(length=length, trend="1w", trend_length=2)),
        Breakout(BreakoutParams(channel=length, swing=swing, trend="1w")),
    ):
        assert_same_prefix(strategy.indicators(data), strategy.indicators(data.head(k)), k)
