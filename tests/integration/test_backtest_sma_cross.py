"""``sma_cross`` on real daily series matches, trade for trade, a plain loop written here from
the issue's definition (no code shared with the runner)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from algodesk.backtest.config import BacktestConfig
from algodesk.backtest.data import load_series
from algodesk.backtest.runner import Backtest
from algodesk.strategies.base import AllIn, PercentOfEquity, Strategy
from algodesk.strategies.rsi_reversion import RsiReversion, RsiReversionParams
from algodesk.strategies.sma_cross import SmaCross, SmaCrossParams

D40 = Decimal(40)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FILES = {"NVDA": DATA / "nvda-1999-2014.txt", "YHOO": DATA / "yhoo-1996-2015.txt"}


@dataclass
class LoopTrade:
    entry_day: date
    entry_price: Decimal
    quantity: Decimal
    exit_day: date | None = None
    exit_price: Decimal | None = None
    pnl: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)


def plain_loop(
    path: Path, fast: int, slow: int, cash: Decimal, rate: Decimal
) -> tuple[list[LoopTrade], Decimal]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    days = [date.fromisoformat(r["Date"]) for r in rows]
    opens = [Decimal(r["Open"]) for r in rows]
    closes = [Decimal(r["Close"]) for r in rows]
    trades: list[LoopTrade] = []
    held = Decimal(0)
    sign = 0
    signal = 0  # decided at the previous close, executed at this open
    for i in range(len(rows)):
        if signal > 0 and held == 0:
            qty = (cash / (opens[i] * (1 + rate))).to_integral_value(rounding=ROUND_DOWN)
            fee = qty * opens[i] * rate
            cash -= qty * opens[i] + fee
            held = qty
            trades.append(LoopTrade(days[i], opens[i], qty, commission=fee))
        elif signal < 0 and held > 0:
            fee = held * opens[i] * rate
            cash += held * opens[i] - fee
            t = trades[-1]
            t.exit_day, t.exit_price = days[i], opens[i]
            t.commission += fee
            t.pnl = (opens[i] - t.entry_price) * held - t.commission
            held = Decimal(0)
        signal = 0
        if i + 1 >= slow:
            fast_avg = sum(closes[i + 1 - fast : i + 1]) / fast
            slow_avg = sum(closes[i + 1 - slow : i + 1]) / slow
            new = 1 if fast_avg > slow_avg else -1 if fast_avg < slow_avg else 0
            if new == 0:
                new = sign
            if sign not in (0, new):
                signal = new
            sign = new
    return trades, cash + held * closes[-1]


def _day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    assert moment.tzinfo is UTC
    assert moment.hour == 0
    return moment.date()


@pytest.mark.slow
@pytest.mark.parametrize("symbol", ["NVDA", "YHOO"])
@pytest.mark.parametrize("commission", ["0", "0.001"])
def test_sma_cross_matches_a_plain_loop(symbol: str, commission: str) -> None:
    rate = Decimal(commission)
    cash = Decimal(10000)
    expected, expected_equity = plain_loop(FILES[symbol], 10, 20, cash, rate)
    series = load_series(FILES[symbol])
    config = BacktestConfig(cash=cash, commission=rate)
    result = Backtest(SmaCross(SmaCrossParams(fast=10, slow=20)), [series], config).run()

    got = [*result.trades, *result.open_trades]
    assert len(got) == len(expected) > 50
    for mine, theirs in zip(got, expected, strict=True):
        assert _day(mine.entry_time) == theirs.entry_day
        assert mine.entry_price == theirs.entry_price
        assert mine.quantity == theirs.quantity
        assert _day(mine.exit_time) == theirs.exit_day
        assert mine.exit_price == theirs.exit_price
        if theirs.exit_day is not None:
            assert abs(mine.pnl - theirs.pnl) <= Decimal("1e-6")
            assert abs(mine.commission - theirs.commission) <= Decimal("1e-6")
    assert (result.open_trade is None) == (expected[-1].exit_day is not None)
    assert abs(result.final_equity - expected_equity) <= Decimal("1e-6")
    assert result.ledger_verified
    assert result.equity[-1].equity == result.final_equity


class _EveryBar:
    """A strategy's twin that asks for every bar: no bar is skipped."""

    @staticmethod
    def of(strategy: Strategy) -> Strategy:
        class Always(type(strategy)):  # type: ignore[misc]
            def active(self, data: object, indicators: object) -> None:
                return None

        return Always(strategy.params)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "symbols", "sizing"),
    [
        (RsiReversion(RsiReversionParams(stop_loss_pct=3)), ["NVDA"], AllIn()),
        (SmaCross(SmaCrossParams(fast=10, slow=20)), ["NVDA", "YHOO"], PercentOfEquity(D40)),
    ],
    ids=["stop_loss_working_on_quiet_bars", "two_series_percent_of_equity"],
)
def test_skipping_quiet_bars_changes_no_order_and_no_result(
    strategy: Strategy, symbols: list[str], sizing: object
) -> None:
    series = [load_series(FILES[s]) for s in symbols]
    config = BacktestConfig(cash=Decimal(100000), sizing=sizing)  # type: ignore[arg-type]
    skipping = Backtest(strategy, series, config).run()
    every = Backtest(_EveryBar.of(strategy), series, config).run()
    assert len(skipping.orders) > 20
    key = [(o.created_at, o.instrument, o.side, o.quantity, o.status) for o in skipping.orders]
    assert key == [(o.created_at, o.instrument, o.side, o.quantity, o.status) for o in every.orders]
    assert skipping.final_equity == every.final_equity
