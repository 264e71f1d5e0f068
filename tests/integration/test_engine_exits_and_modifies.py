"""Exits and modifies against working orders: a stop-loss goes out while the trader's own
limit rests, and a partly filled order is judged on what is left of it when modified."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.commands import ModifyOrder, SetTradingState
from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import price, quantity
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.mark.parametrize("state", [TradingState.ACTIVE, TradingState.REDUCING])
def test_a_stop_loss_fires_while_the_traders_take_profit_limit_rests_and_cancels_it(
    state: TradingState,
) -> None:
    """The exit goes out ahead of the resting limit sell (also while a breaker has the account
    reducing, when exits matter most), and the limit is canceled: left resting, it would sell
    short when the price came back."""
    desk = funded_desk()
    assert desk.engine.handle(submit(BUY, "10", exits=ExitPlan(stop_loss=price("95")))).ok
    take_profit = desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, "110"))
    assert take_profit.ok
    if state is TradingState.REDUCING:
        change = SetTradingState(account_id=ACCOUNT, state=state, reason="a breaker")
        assert desk.engine.handle(change).ok
    desk.quote(AAPL, "94.50")
    (outcome,) = desk.exits.on_mark(AAPL.id, Decimal("94.50"))
    assert outcome.ok, f"{outcome.code}: {outcome.message}"
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(0)
    assert desk.engine.open_orders(ACCOUNT) == []  # the take-profit was canceled
    desk.quote(AAPL, "111")  # the price comes back through 110: nothing sells short
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(0)


def test_an_exit_cancels_only_what_could_take_more_than_the_position() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(BUY, "10")).ok
    older = desk.engine.handle(submit(SELL, "4", OrderType.LIMIT, "105"))
    newer = desk.engine.handle(submit(SELL, "4", OrderType.LIMIT, "106"))
    exit_ = desk.engine.handle(submit(SELL, "5", OrderType.LIMIT, "104", reduce_only=True))
    assert exit_.ok, exit_
    # 10 held, 5 to the exit: 5 left, and 8 rest as plain sells; the newer 4 go.
    left = {o.client_order_id.value for o in desk.engine.open_orders(ACCOUNT)}
    assert newer.ok
    assert left == {older.client_order_id, exit_.client_order_id}


def test_reduce_only_orders_together_still_may_not_exceed_the_position() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(BUY, "10")).ok
    first = desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, "110", reduce_only=True))
    assert first.ok, first
    second = desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, "111", reduce_only=True))
    assert second.code == "REDUCE_ONLY_WOULD_INCREASE", second


def _long_10_with_an_exit_4_filled() -> tuple[Desk, ClientOrderId]:
    desk = funded_desk(paper_config=PaperBrokerConfig(max_fill_per_quote=Decimal(4)))
    assert desk.engine.handle(submit(BUY, "10")).ok
    for _ in range(3):
        desk.quote(AAPL, "100")
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(10)
    out = desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, "101", reduce_only=True))
    assert out.ok, out
    desk.quote(AAPL, "101.02")  # trades through 101: 4 of the 10 fill
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(6)
    return desk, ClientOrderId(out.client_order_id)


def _reprice(desk: Desk, coid: ClientOrderId, px: str) -> None:
    out = desk.engine.handle(ModifyOrder(account_id=ACCOUNT, client_order_id=coid, price=price(px)))
    assert out.ok, f"{out.code}: {out.message}"


def test_a_partly_filled_exit_can_be_repriced() -> None:
    desk, coid = _long_10_with_an_exit_4_filled()
    _reprice(desk, coid, "100.50")


def test_a_partly_filled_exit_can_be_repriced_while_reducing() -> None:
    desk, coid = _long_10_with_an_exit_4_filled()
    state = SetTradingState(account_id=ACCOUNT, state=TradingState.REDUCING, reason="test")
    assert desk.engine.handle(state).ok
    _reprice(desk, coid, "100.50")


def test_a_partly_filled_entry_at_the_position_cap_can_be_repriced() -> None:
    desk = funded_desk(
        RiskLimits(max_orders_per_second=None, max_position_qty=Decimal(10)),
        paper_config=PaperBrokerConfig(max_fill_per_quote=Decimal(4)),
    )
    out = desk.engine.handle(submit(BUY, "10", OrderType.LIMIT, "100"))
    assert out.ok, out
    desk.quote(AAPL, "99.98")  # 4 of 10 fill: at worst the position is still 10
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(4)
    _reprice(desk, ClientOrderId(out.client_order_id), "99.90")


def test_a_modify_to_no_more_than_the_filled_quantity_is_refused() -> None:
    desk, coid = _long_10_with_an_exit_4_filled()
    out = desk.engine.handle(
        ModifyOrder(account_id=ACCOUNT, client_order_id=coid, quantity=quantity("4"))
    )
    assert out.code == "INVALID_ORDER", out
    assert "above the 4 filled" in out.message


def test_an_exit_is_not_counted_against_the_entries_of_the_day() -> None:
    """Two entries a day: buy, sell it back, buy again (the 2nd entry); a third is refused.
    A restarted engine counts the day's orders against the positions they were made at."""
    limits = RiskLimits(max_orders_per_second=None, max_trades_per_day=2)
    desk = funded_desk(limits)
    assert desk.engine.handle(submit(BUY, "10")).ok
    assert desk.engine.handle(submit(SELL, "10")).ok  # closes the long: an exit
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(0)
    restarted = Desk(desk.store, limits)
    restarted.quote(AAPL, "100")
    second = restarted.engine.handle(submit(BUY, "10"))
    assert second.ok, f"{second.code}: {second.message}"
    third = restarted.engine.handle(submit(BUY, "10"))
    assert third.code == "TRADE_COUNT_LIMIT", third
    assert "entries_today=2" in third.message
    flip = restarted.engine.handle(submit(SELL, "30"))  # 20 past flat: a new short, an entry
    assert flip.code == "TRADE_COUNT_LIMIT", flip


def test_sales_resting_beyond_the_position_are_entries_as_the_gates_judge_them() -> None:
    """Long 10: the first limit sale of 10 is an exit; each further one could sell short if all
    filled, so each is an entry (and counted), also after a restart."""
    limits = RiskLimits(max_orders_per_second=None, max_trades_per_day=2)
    desk = funded_desk(limits)
    assert desk.engine.handle(submit(BUY, "10")).ok  # entry 1 of 2
    sales = [
        desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, str(101 + n))) for n in range(3)
    ]
    assert [s.code for s in sales] == [None, None, "TRADE_COUNT_LIMIT"]
    restarted = Desk(desk.store, limits)
    restarted.quote(AAPL, "100")
    again = restarted.engine.handle(submit(SELL, "10", OrderType.LIMIT, "105"))
    assert again.code == "TRADE_COUNT_LIMIT", again
