"""Regression tests for engine bugs found in review: each was reproduced before its fix."""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.storage.memory.store import InMemoryUnitOfWork
from algodesk.domain.commands import CancelOrder, ModifyOrder, SetTradingState
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import Quantity, money, price
from algodesk.testing.brokers import RefusingBroker
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, USD, Desk, funded_desk, submit

D = Decimal


def position(desk: Desk) -> Decimal:
    return desk.engine.position(ACCOUNT, None, AAPL.id)


def test_stacked_sells_against_a_long_cannot_flip_it_past_the_limit() -> None:
    desk = funded_desk(RiskLimits(max_orders_per_second=None, max_position_qty=D(10)))
    assert desk.engine.handle(submit(qty="10")).ok
    codes = [
        desk.engine.handle(
            submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="101")
        ).code
        for _ in range(3)
    ]
    # The first sale reduces; the second would flip to -10 once the first fills (still within
    # the cap); the third would make -20.
    assert codes == [None, None, "POSITION_LIMIT_EXCEEDED"]
    desk.quote(AAPL, "102")
    assert position(desk) == D(-10)


def test_stacked_reduce_only_orders_cannot_open_a_short() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10"))
    first = desk.engine.handle(
        submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="101", reduce_only=True)
    )
    second = desk.engine.handle(
        submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="101", reduce_only=True)
    )
    assert (first.ok, second.code) == (True, "REDUCE_ONLY_WOULD_INCREASE")
    desk.quote(AAPL, "102")
    assert position(desk) == D(0)


def test_reducing_state_counts_working_sells() -> None:
    desk = funded_desk()
    desk.engine.handle(submit(qty="10"))
    desk.engine.handle(SetTradingState(account_id=ACCOUNT, state=TradingState.REDUCING, reason="t"))
    assert desk.engine.handle(
        submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="101")
    ).ok
    assert (
        desk.engine.handle(
            submit(side=OrderSide.SELL, qty="10", kind=OrderType.LIMIT, px="101")
        ).code
        == "TRADING_STATE_REDUCING"
    )


def test_a_key_reused_for_another_command_is_refused() -> None:
    desk = funded_desk()
    coid = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95")).client_order_id
    assert desk.engine.handle(
        CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid), idempotency_key="K1")
    ).ok
    reused = desk.engine.handle(submit(idempotency_key="K1"))
    assert (reused.ok, reused.code) == (False, "IDEMPOTENCY_KEY_REUSED")
    changed = desk.engine.handle(submit(qty="1", idempotency_key="K2"))
    assert (
        desk.engine.handle(submit(qty="2", idempotency_key="K2")).code == "IDEMPOTENCY_KEY_REUSED"
    )
    assert changed.ok


def test_a_malformed_modify_is_refused_not_raised() -> None:
    desk = funded_desk()
    coid = desk.engine.handle(submit(kind=OrderType.LIMIT, px="95")).client_order_id
    outcome = desk.engine.handle(
        ModifyOrder(
            account_id=ACCOUNT, client_order_id=ClientOrderId(coid), trigger_price=price("96")
        )
    )
    assert (outcome.ok, outcome.code) == (False, "INVALID_ORDER")
    assert desk.order(coid).status is OrderStatus.ACCEPTED


def test_a_venue_rejection_is_the_answer_and_the_replay() -> None:
    desk = funded_desk(
        venue=lambda paper: RefusingBroker(paper, reason="insufficient margin at the venue")
    )
    first = desk.engine.handle(submit(idempotency_key="R1"))
    assert (first.ok, first.code, first.status) == (False, "VENUE_REJECTED", "REJECTED")
    again = desk.engine.handle(submit(idempotency_key="R1"))
    assert (again.ok, again.code, again.replayed) == (False, "VENUE_REJECTED", True)


def test_a_failing_subscriber_does_not_stop_the_order() -> None:
    desk = funded_desk()

    def broken(_: object) -> None:
        raise RuntimeError("notifier down")

    desk.engine.subscribe(broken)
    outcome = desk.engine.handle(submit(qty="3"))
    assert desk.order(outcome.client_order_id).status is OrderStatus.FILLED


def test_one_bad_venue_event_does_not_lose_the_rest_of_the_batch() -> None:
    desk = funded_desk()
    first = desk.engine.handle(submit(kind=OrderType.LIMIT, px="99"))
    second = desk.engine.handle(submit(kind=OrderType.LIMIT, px="98"))
    desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), D(97)))  # both fill at the venue
    desk.market.instruments = {}  # ... but the engine no longer knows the instrument
    assert desk.engine.pump() == 2  # no exception escapes; both events were looked at
    with InMemoryUnitOfWork(desk.store) as uow:
        incidents = uow.journal.records(ACCOUNT, "EventNotApplied")
    assert [r.payload["coid"] for r in incidents] == [first.client_order_id, second.client_order_id]
    assert all(r.payload["type"] == "OrderFilled" for r in incidents)


def test_an_account_flatten_closes_each_bot_book_in_its_own_name() -> None:
    from algodesk.domain.commands import Flatten
    from algodesk.domain.identifiers import BotId

    desk = funded_desk()
    bot = BotId("alpha")
    desk.ledger.allocate(ACCOUNT, bot, money("5000", USD))
    desk.engine.handle(submit(qty="10", bot_id=bot))
    desk.engine.handle(submit(qty="4"))
    desk.engine.handle(Flatten(account_id=ACCOUNT))
    assert desk.engine.position(ACCOUNT, bot, AAPL.id) == D(0)
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(0)
    summary = desk.ledger.summary(ACCOUNT, None)
    assert summary.positions[AAPL.id].quantity == D(0)  # the unassigned book too
    # The bot cannot now "sell its 10": it holds nothing.
    assert (
        desk.engine.handle(submit(side=OrderSide.SELL, qty="10", bot_id=bot, reduce_only=True)).code
        == "POSITION_NOT_FOUND"
    )


def test_a_retried_flatten_closes_what_the_interrupted_one_left() -> None:
    from algodesk.domain import client_order_ids
    from algodesk.domain.commands import Flatten, SubmitOrder
    from tests.integration.test_engine import MSFT

    desk = funded_desk()
    desk.quote(MSFT, "50")
    desk.engine.handle(submit(qty="10"))
    desk.engine.handle(submit(qty="7", instrument=MSFT.id))
    # The first attempt got as far as closing AAPL, with the id the flatten gives that book.
    aapl_closer = client_order_ids.for_signal(ACCOUNT, f"flatten:K:-:{AAPL.id}")
    desk.engine.handle(
        SubmitOrder(
            account_id=ACCOUNT,
            instrument_id=AAPL.id,
            side=OrderSide.SELL,
            order_type=OrderType.MARKET,
            quantity=Quantity(D(10)),
            reduce_only=True,
            client_order_id=aapl_closer,
        )
    )
    retried = desk.engine.handle(Flatten(account_id=ACCOUNT, idempotency_key="K"))
    assert retried.message == "canceled 0 orders, closing 1 positions"
    assert desk.engine.position(ACCOUNT, None, MSFT.id) == D(0)
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(0)


def test_the_venue_fee_model_reaches_buying_power_and_fee_coverage() -> None:
    from algodesk.domain.matching import PerOrderFee

    desk = funded_desk(cash="1000", fees={AAPL.id.venue: PerOrderFee(D(20))})
    broke = desk.engine.handle(submit(qty="10"))  # 1,000 of stock plus a 20 fee
    assert (broke.code, "required=1020" in broke.message) == ("INSUFFICIENT_BUYING_POWER", True)
    # A 1 % target on 500 of stock: the round trip costs 40 / 500 = 800 bps. Not covered.
    thin = desk.engine.handle(submit(qty="5", target_price=price("101")))
    assert thin.code == "FEE_COVERAGE"
    assert "fees_bps=800" in thin.message


def test_the_pdt_rule_counts_day_trades_in_the_engine() -> None:
    desk = funded_desk(RiskLimits(max_orders_per_second=None, pdt=True), cash="20000")  # < 25k
    for _ in range(3):
        assert desk.engine.handle(submit(qty="1")).ok
        assert desk.engine.handle(submit(side=OrderSide.SELL, qty="1")).ok  # a day trade
    denied = desk.engine.handle(submit(qty="1"))
    assert denied.code == "PDT_RESTRICTED"
    assert "day_trades_5d=3" in denied.message
