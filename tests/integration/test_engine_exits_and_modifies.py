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
def test_a_stop_loss_fires_while_the_traders_take_profit_limit_rests(
    state: TradingState,
) -> None:
    """The exit goes out ahead of the resting limit sell, also while a breaker has the account
    reducing, when exits matter most."""
    desk = funded_desk()
    assert desk.engine.handle(submit(BUY, "10", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(SELL, "10", OrderType.LIMIT, "110")).ok
    if state is TradingState.REDUCING:
        change = SetTradingState(account_id=ACCOUNT, state=state, reason="a breaker")
        assert desk.engine.handle(change).ok
    desk.quote(AAPL, "94.50")
    (outcome,) = desk.exits.on_mark(AAPL.id, Decimal("94.50"))
    assert outcome.ok, f"{outcome.code}: {outcome.message}"
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(0)


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
    # Below the last quote (101.02), the repriced exit takes 4 more at once.
    (live,) = desk.engine.open_orders(ACCOUNT)
    assert (live.client_order_id, live.price, live.leaves_quantity) == (
        coid,
        price("100.50"),
        quantity("2"),
    )
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == Decimal(2)


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
