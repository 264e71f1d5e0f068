"""Exits in the engine: armed by the entry's fill, fired by marks as reduce-only orders that
entry limits never block, kept across a restart, and never opening a position."""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.storage.memory.store import InMemoryUnitOfWork
from algodesk.domain.commands import SetTradingState
from algodesk.domain.exits import ExitPlan, Trailing
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import price
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit

D = Decimal


def mark(desk: Desk, last: str) -> list[object]:
    desk.quote(AAPL, last)
    return list(desk.exits.on_mark(AAPL.id, D(last)))


def position(desk: Desk) -> Decimal:
    held = desk.ledger.summary(ACCOUNT).positions.get(AAPL.id)
    return held.quantity if held else D(0)


def test_a_stop_loss_closes_the_position_when_the_mark_crosses_it() -> None:
    desk = funded_desk()
    plan = ExitPlan(stop_loss=price("95"), take_profit=price("110"))
    assert desk.engine.handle(submit(qty="10", exits=plan)).ok
    assert position(desk) == D(10)
    assert mark(desk, "96") == []
    (outcome,) = mark(desk, "94.50")
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)
    assert mark(desk, "90") == []  # fired once
    with InMemoryUnitOfWork(desk.store) as uow:
        fired = uow.journal.records(ACCOUNT, "ExitFired")
    assert fired[0].payload["kind"] == "STOP_LOSS"
    assert desk.ledger.verify().ok


def test_a_trailing_stop_on_a_short() -> None:
    desk = funded_desk()
    assert desk.engine.handle(
        submit(side=OrderSide.SELL, qty="5", exits=ExitPlan(trailing=Trailing(D(2))))
    ).ok
    mark(desk, "90")  # best 90: the stop trails to 91.80
    assert mark(desk, "91.79") == []
    (outcome,) = mark(desk, "91.80")
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)


def test_entry_limits_never_block_an_exit() -> None:
    desk = funded_desk(
        RiskLimits(max_orders_per_second=None, max_notional=D(1000), max_trades_per_day=1)
    )
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(take_profit=price("101")))).ok
    assert desk.engine.handle(submit(qty="1")).code == "TRADE_COUNT_LIMIT"
    (outcome,) = mark(desk, "101")  # notional 1010 > 1000, and the day's entries are used up
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)


def test_exits_on_the_wrong_side_are_refused_with_the_entry() -> None:
    desk = funded_desk()
    outcome = desk.engine.handle(submit(qty="1", exits=ExitPlan(stop_loss=price("101"))))
    assert (outcome.ok, outcome.code) == (False, "INVALID_EXITS")
    assert "must lie below the entry 100" in outcome.message


def test_an_exit_after_a_manual_close_opens_nothing() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95"))))
    desk.engine.handle(submit(side=OrderSide.SELL, qty="10"))  # the stop retires with it
    assert mark(desk, "94") == []
    assert position(desk) == D(0)


def test_a_denied_exit_tries_again_on_the_next_mark() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95"))))
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="test")
    )
    (denied,) = mark(desk, "94")
    assert denied.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    desk.engine.handle(
        SetTradingState(account_id=ACCOUNT, state=TradingState.REDUCING, reason="test")
    )
    (again,) = mark(desk, "93")
    assert again.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)


def test_exits_survive_a_restart() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95"))))
    restarted = Desk(store=desk.store, limits=RiskLimits(max_orders_per_second=None))
    restarted.quote(AAPL, "94")  # a new process: its marks come from the feed again
    (outcome,) = restarted.exits.on_mark(AAPL.id, D(94))
    assert outcome.ok
    assert position(restarted) == D(0)


def test_a_limit_entry_arms_its_exits_only_when_it_fills() -> None:
    desk = funded_desk()
    desk.engine.handle(
        submit(qty="10", kind=OrderType.LIMIT, px="98", exits=ExitPlan(stop_loss=price("95")))
    )
    assert position(desk) == D(0)
    assert mark(desk, "97.90") == []  # the entry fills at 98; the stop at 95 is not crossed
    assert position(desk) == D(10)
    (outcome,) = mark(desk, "94.8")
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)


def test_an_exit_denied_before_a_restart_is_still_armed_after_it() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95"))))
    desk.engine.handle(SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="t"))
    (denied,) = mark(desk, "94")
    assert denied.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    desk.engine.handle(SetTradingState(account_id=ACCOUNT, state=TradingState.REDUCING, reason="t"))
    restarted = Desk(store=desk.store, limits=RiskLimits(max_orders_per_second=None))
    restarted.quote(AAPL, "93")
    (outcome,) = restarted.exits.on_mark(AAPL.id, D(93))
    assert outcome.ok
    assert position(restarted) == D(0)


def test_fills_after_an_exit_fired_are_protected_too() -> None:
    from algodesk.adapters.brokers.paper.config import PaperBrokerConfig

    # A venue that fills at most 4 a quote: the entry fills in pieces around the exit.
    desk = funded_desk(paper_config=PaperBrokerConfig(max_fill_per_quote=D(4)))
    desk.quote(AAPL, "101")
    desk.engine.handle(
        submit(qty="10", kind=OrderType.LIMIT, px="100", exits=ExitPlan(stop_loss=price("95")))
    )
    mark(desk, "99.99")  # 4 fill
    assert position(desk) == D(4)
    (first,) = mark(desk, "94")  # the stop takes the 4; the entry fills 4 more at the limit
    assert first.ok  # type: ignore[attr-defined]
    mark(desk, "99.99")  # the last 2 fill
    (second,) = mark(desk, "90")  # the stop takes what filled after it fired
    assert second.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)


def test_a_one_cancels_other_leg_is_not_counted_ahead_of_its_partner() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10")).ok
    stop = desk.engine.handle(
        submit(
            OrderSide.SELL,
            "10",
            OrderType.STOP,
            trigger_price=price("95"),
            reduce_only=True,
            time_in_force=TimeInForce.GTC,
        )
    )
    assert stop.ok
    # Without the link, a second reduce-only sell of 10 could flip the long: denied.
    alone = desk.engine.handle(
        submit(
            OrderSide.SELL,
            "10",
            OrderType.LIMIT,
            "110",
            reduce_only=True,
            time_in_force=TimeInForce.GTC,
        )
    )
    assert alone.code == "REDUCE_ONLY_WOULD_INCREASE"
    partner = ClientOrderId(str(stop.client_order_id))
    linked = desk.engine.handle(
        submit(
            OrderSide.SELL,
            "10",
            OrderType.LIMIT,
            "110",
            reduce_only=True,
            time_in_force=TimeInForce.GTC,
            oco_with=partner,
        )
    )
    assert linked.ok, linked
    # A link to an order that is not working (or of the other side) is refused.
    wrong = desk.engine.handle(
        submit(
            OrderSide.SELL,
            "10",
            OrderType.LIMIT,
            "111",
            reduce_only=True,
            oco_with=ClientOrderId("NOSUCHORDER"),
        )
    )
    assert wrong.code == "OCO_PARTNER_NOT_WORKING"
    other_side = desk.engine.handle(
        submit(OrderSide.BUY, "1", OrderType.LIMIT, "90", oco_with=partner)
    )
    assert other_side.code == "OCO_PARTNER_NOT_WORKING"


def test_a_stop_loss_cancels_the_traders_reduce_only_take_profit_that_would_block_it() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    take_profit = desk.engine.handle(
        submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="105", reduce_only=True)
    )
    assert take_profit.ok
    (outcome,) = mark(desk, "94")  # 10 resting + 10 > 10 held: the stop was denied every mark
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(0)
    canceled = desk.order(str(take_profit.client_order_id))
    assert canceled.status.value == "CANCELED"
    with InMemoryUnitOfWork(desk.store) as uow:
        (fired,) = uow.journal.records(ACCOUNT, "ExitFired")
    assert fired.payload["canceled"] == [take_profit.client_order_id]


def test_a_partial_stop_cancels_only_what_it_needs_newest_first() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="6", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(qty="4")).ok  # held 10, the stop covers 6
    older = desk.engine.handle(
        submit(side=OrderSide.SELL, qty="4", kind=OrderType.LIMIT, px="105", reduce_only=True)
    )
    newer = desk.engine.handle(
        submit(side=OrderSide.SELL, qty="4", kind=OrderType.LIMIT, px="106", reduce_only=True)
    )
    (outcome,) = mark(desk, "94")  # 8 resting + 6 > 10: one of 4 must go
    assert outcome.ok  # type: ignore[attr-defined]
    assert position(desk) == D(4)
    assert desk.order(str(newer.client_order_id)).status.value == "CANCELED"
    assert desk.order(str(older.client_order_id)).status.value == "ACCEPTED"
