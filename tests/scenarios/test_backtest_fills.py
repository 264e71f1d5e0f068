"""Backtest fill rules as small bar tables with the expected trades: next-open fills, a gap
through a stop, the same-bar stop-loss and take-profit, limit fills, fees, and the gates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.backtest.config import BacktestConfig, ExitPriority, FillAt, parse_limits
from algodesk.backtest.data import load_series
from algodesk.backtest.results import BacktestResult
from algodesk.backtest.runner import Backtest
from algodesk.strategies.base import BarContext, Strategy, Units

D = Decimal
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class NoParams:
    pass


class Scripted(Strategy):
    """Does what the test says at given bars."""

    name = "scripted"
    Params = NoParams

    def __init__(self, plan: dict[int, Callable[[BarContext], None]]) -> None:
        super().__init__(NoParams())
        self.plan = plan

    def on_bar(self, ctx: BarContext) -> None:
        action = self.plan.get(ctx.index)
        if action is not None:
            action(ctx)


def bars_file(tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """Daily bars from (open, high, low, close), one day apart from 2024-01-01."""
    path = tmp_path / "test.csv"
    lines = ["Date,Open,High,Low,Close,Volume"]
    for n, (o, h, low, c) in enumerate(rows):
        lines.append(f"{(DAY0 + timedelta(days=n)).date()},{o},{h},{low},{c},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(
    tmp_path: Path,
    rows: list[tuple[str, str, str, str]],
    plan: dict[int, Callable[[BarContext], None]],
    **config: object,
) -> BacktestResult:
    series = load_series(bars_file(tmp_path, rows))
    settings = BacktestConfig(**{"sizing": Units(D(10)), **config})  # type: ignore[arg-type]
    return Backtest(Scripted(plan), [series], settings).run()


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


FLAT = ("100", "101", "99", "100")


def test_a_decision_at_a_close_fills_at_the_next_open(tmp_path: Path) -> None:
    rows = [FLAT, ("103", "104", "102", "103"), ("104", "106", "103", "105"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(), 1: lambda c: c.sell()})
    (trade,) = result.trades
    assert (trade.entry_time, trade.entry_price) == (day(1), D("103"))
    assert (trade.exit_time, trade.exit_price) == (day(2), D("104"))
    assert trade.quantity == 10
    assert trade.pnl == D("10")
    assert result.final_equity == D("10010")


def test_fill_at_close_fills_at_the_deciding_bars_close(tmp_path: Path) -> None:
    rows = [FLAT, ("103", "104", "102", "103"), ("104", "106", "103", "105"), FLAT]
    result = run(
        tmp_path, rows, {0: lambda c: c.buy(), 1: lambda c: c.sell()}, fill_at=FillAt.CLOSE
    )
    (trade,) = result.trades
    assert (trade.entry_time, trade.entry_price) == (day(1), D("100"))  # bar 0 closes at day 1
    assert (trade.exit_time, trade.exit_price) == (day(2), D("103"))


def test_a_stop_loss_gapped_through_fills_at_the_open(tmp_path: Path) -> None:
    # Entry at bar 1's open (100) with a stop-loss at 95; bar 2 opens at 90, below the stop.
    rows = [FLAT, FLAT, ("90", "92", "88", "91"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(stop_loss=D(95))})
    (trade,) = result.trades
    assert (trade.exit_time, trade.exit_price) == (day(2), D("90"))
    assert trade.pnl == D("-100")


def test_a_stop_loss_crossed_inside_a_bar_fills_at_its_trigger(tmp_path: Path) -> None:
    rows = [FLAT, FLAT, ("99", "100", "93", "96"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(stop_loss=D(95))})
    (trade,) = result.trades
    assert (trade.exit_time, trade.exit_price) == (day(2), D("95"))


@pytest.mark.parametrize(
    ("priority", "exit_price"),
    [(ExitPriority.STOP_LOSS, D("95")), (ExitPriority.TAKE_PROFIT, D("105"))],
)
def test_same_bar_stop_loss_and_take_profit(
    tmp_path: Path, priority: ExitPriority, exit_price: Decimal
) -> None:
    rows = [FLAT, FLAT, ("100", "106", "94", "100"), FLAT]
    plan = {0: lambda c: c.buy(stop_loss=D(95), take_profit=D(105))}
    result = run(tmp_path, rows, plan, exit_priority=priority)
    (trade,) = result.trades
    assert (trade.exit_time, trade.exit_price) == (day(2), exit_price)
    # The other leg was canceled (one cancels the other): no second exit, position flat.
    assert result.open_trade is None
    statuses = sorted(o.status for o in result.orders)
    assert statuses == ["CANCELED", "FILLED", "FILLED"]


def test_a_take_profit_alone_fills_at_its_limit(tmp_path: Path) -> None:
    rows = [FLAT, FLAT, ("101", "107", "100", "106"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(stop_loss=D(90), take_profit=D(105))})
    (trade,) = result.trades
    assert (trade.exit_time, trade.exit_price) == (day(2), D("105"))


def test_exits_watch_the_rest_of_the_entry_bar(tmp_path: Path) -> None:
    # The entry fills at bar 1's open (100); the same bar then drops to 94: the stop fills.
    rows = [FLAT, ("100", "100", "94", "96"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(stop_loss=D(95))})
    (trade,) = result.trades
    assert (trade.entry_time, trade.exit_time) == (day(1), day(1))
    assert trade.exit_price == D("95")


def test_a_limit_only_touched_does_not_fill_and_one_traded_through_does(
    tmp_path: Path,
) -> None:
    rows = [FLAT, ("100", "101", "97", "99"), ("99", "100", "96", "98"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(limit=D(97))})
    (trade,) = result.open_trades
    assert (trade.entry_time, trade.entry_price) == (day(2), D("97"))


def test_a_limit_gapped_through_fills_at_the_limit_never_better(tmp_path: Path) -> None:
    rows = [FLAT, ("95", "96", "94", "95"), FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(limit=D(97))})
    (trade,) = result.open_trades
    assert (trade.entry_time, trade.entry_price) == (day(1), D("97"))


def test_commission_is_charged_on_entry_and_exit(tmp_path: Path) -> None:
    rows = [FLAT, ("100", "101", "99", "100"), ("110", "111", "109", "110"), FLAT]
    result = run(
        tmp_path, rows, {0: lambda c: c.buy(), 1: lambda c: c.sell()}, commission=D("0.001")
    )
    (trade,) = result.trades
    assert trade.commission == D("1.000") + D("1.100")
    assert trade.pnl == D("100") - D("2.1")
    assert result.final_equity == D("10097.9")
    assert result.ledger_verified


def test_all_in_buys_whole_units_the_cash_affords_at_the_fill_price(tmp_path: Path) -> None:
    rows = [FLAT, ("123", "124", "122", "123"), FLAT]
    series = load_series(bars_file(tmp_path, rows))
    config = BacktestConfig(cash=D(10000), commission=D("0.001"))
    result = Backtest(Scripted({0: lambda c: c.buy()}), [series], config).run()
    (trade,) = result.open_trades
    assert trade.quantity == 81  # floor(10000 / (123 × 1.001)) = floor(81.22)
    assert trade.entry_price == D("123")


def test_the_accounts_limits_deny_an_order_with_a_stable_code(tmp_path: Path) -> None:
    rows = [FLAT, FLAT, FLAT]
    limits = parse_limits(["max_notional=500"])
    result = run(tmp_path, rows, {0: lambda c: c.buy()}, limits=limits)
    assert result.trades == []
    assert result.open_trades == []
    (order,) = result.orders
    assert order.status == "DENIED"
    assert order.reason is not None
    assert "MAX_NOTIONAL" in order.reason


def test_an_order_the_cash_cannot_pay_for_is_denied(tmp_path: Path) -> None:
    rows = [FLAT, FLAT, FLAT]
    result = run(tmp_path, rows, {0: lambda c: c.buy(D(1000))})  # 100,000 > 10,000 cash
    (order,) = result.orders
    assert order.status == "DENIED"
    assert order.reason is not None
    assert "INSUFFICIENT_BUYING_POWER" in order.reason


def test_a_short_round_trip_and_a_target_position(tmp_path: Path) -> None:
    rows = [
        FLAT,
        ("100", "101", "99", "100"),
        ("90", "91", "89", "90"),
        ("95", "96", "94", "95"),
        FLAT,
    ]
    plan = {0: lambda c: c.sell(D(5)), 1: lambda c: c.target(D(0)), 2: lambda c: c.target(D(3))}
    result = run(tmp_path, rows, plan)
    (short,) = result.trades
    assert (short.side, short.entry_price, short.exit_price) == ("SHORT", D("100"), D("90"))
    assert short.pnl == D("50")
    (long,) = result.open_trades
    assert (long.side, long.quantity, long.entry_price) == ("LONG", D("3"), D("95"))


def test_the_strategys_own_exit_replaces_the_bracket(tmp_path: Path) -> None:
    rows = [FLAT, FLAT, ("104", "106", "103", "105"), ("107", "108", "106", "107"), FLAT]
    plan = {0: lambda c: c.buy(stop_loss=D(90), take_profit=D(120)), 2: lambda c: c.sell()}
    result = run(tmp_path, rows, plan)
    (trade,) = result.trades
    assert (trade.exit_time, trade.exit_price) == (day(3), D("107"))
    assert result.open_trades == []
    statuses = sorted(o.status for o in result.orders)
    assert statuses == ["CANCELED", "CANCELED", "FILLED", "FILLED"]


def test_a_brackets_other_leg_is_canceled_as_its_partner_not_as_nothing_to_reduce(
    tmp_path: Path,
) -> None:
    rows = [FLAT, FLAT, ("99", "100", "93", "96"), FLAT]  # the stop-loss at 95 is hit
    result = run(tmp_path, rows, {0: lambda c: c.buy(stop_loss=D(95), take_profit=D(110))})
    (stop,) = [o for o in result.orders if "stop-loss" in o.tag]
    (take_profit,) = [o for o in result.orders if "take-profit" in o.tag]
    assert stop.status == "FILLED"
    assert (take_profit.status, take_profit.reason) == ("CANCELED", None)
