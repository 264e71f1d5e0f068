"""A reduce-only order never opens or grows a position, also when the position shrank after it
was accepted: the paper exchange, like a venue with reduce-only orders, fills it only as far as
it still reduces the account's position and its bot's, and cancels what is left once there is
nothing to reduce. (The gate judges an order when it is placed; these are the fills after.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.domain.commands import Flatten
from algodesk.domain.identifiers import BotId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderSide, OrderStatus, OrderType
from algodesk.domain.values import money, price
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, USD, Desk, funded_desk, submit

D = Decimal
SELL = OrderSide.SELL
LIMIT = OrderType.LIMIT


def held(desk: Desk, bot: BotId | None = None) -> Decimal:
    return desk.engine.position(ACCOUNT, bot, AAPL.id)


def resting_take_profit(desk: Desk, qty: str = "10", **kw: object) -> str:
    """A reduce-only limit sell at 101 that rests (the mark is 100)."""
    outcome = desk.engine.handle(
        submit(side=SELL, qty=qty, kind=LIMIT, px="101", reduce_only=True, **kw)
    )
    assert outcome.ok, outcome
    return str(outcome.client_order_id)


def test_a_resting_reduce_only_sell_is_canceled_when_the_position_is_closed_another_way() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10")).ok
    take_profit = resting_take_profit(desk)
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok  # the trader sells at market
    assert held(desk) == D(0)
    assert desk.order(take_profit).status is OrderStatus.CANCELED  # nothing left to reduce
    desk.quote(AAPL, "102")  # would have filled it: a short of 10 opened by a reduce-only order
    assert held(desk) == D(0)
    assert desk.ledger.verify().ok


def test_a_reduce_only_order_filling_on_the_same_mark_as_a_plain_sale_opens_nothing() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10")).ok
    plain = desk.engine.handle(submit(side=SELL, qty="10", kind=LIMIT, px="101"))
    assert plain.ok
    take_profit = resting_take_profit(desk)
    desk.quote(AAPL, "102")  # both are through: the older, plain sale first
    assert desk.order(str(plain.client_order_id)).status is OrderStatus.FILLED
    assert desk.order(take_profit).status is OrderStatus.CANCELED
    assert desk.order(take_profit).filled_quantity.value == D(0)
    assert held(desk) == D(0)


def test_a_reduce_only_order_fills_only_what_is_still_held_and_the_rest_is_canceled() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10")).ok
    take_profit = resting_take_profit(desk)
    assert desk.engine.handle(submit(side=SELL, qty="4")).ok
    assert desk.order(take_profit).status is OrderStatus.ACCEPTED  # 6 are still held
    desk.quote(AAPL, "102")
    order = desk.order(take_profit)
    assert (order.filled_quantity.value, order.status) == (D(6), OrderStatus.CANCELED)
    assert held(desk) == D(0)
    assert desk.ledger.verify().ok


def two_bots(desk: Desk) -> tuple[BotId, BotId]:
    alpha, beta = BotId("alpha"), BotId("beta")
    for bot in (alpha, beta):
        desk.ledger.allocate(ACCOUNT, bot, money("20000", USD))
    return alpha, beta


def test_a_bots_reduce_only_order_is_judged_on_the_bots_own_position() -> None:
    desk = funded_desk()
    alpha, _ = two_bots(desk)
    assert desk.engine.handle(submit(qty="5")).ok  # the account's own 5
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok
    take_profit = resting_take_profit(desk, bot_id=alpha)
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=alpha)).ok  # alpha is out
    assert desk.order(take_profit).status is OrderStatus.CANCELED  # though the account holds 5
    desk.quote(AAPL, "102")
    assert (held(desk, alpha), held(desk)) == (D(0), D(5))


def test_a_reduce_only_order_on_the_books_at_a_restart_still_fills_what_is_held() -> None:
    before = funded_desk()
    assert before.engine.handle(submit(qty="10")).ok
    take_profit = resting_take_profit(before)
    after = Desk(store=before.store)
    assert "1 working orders restored" in after.recover()
    after.quote(AAPL, "102")
    assert after.order(take_profit).status is OrderStatus.FILLED  # the 10 held were seen
    assert held(after) == D(0)


@pytest.mark.parametrize("bot", [None, "beta"])
def test_a_flatten_closes_every_book_when_bots_hold_opposite_ways(bot: str | None) -> None:
    desk = funded_desk()
    alpha, beta = two_bots(desk)
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok
    assert desk.engine.handle(submit(side=SELL, qty="4", bot_id=beta)).ok
    assert desk.engine.handle(submit(side=SELL, qty="3")).ok  # the account's own book: -3
    assert (held(desk, alpha), held(desk, beta), held(desk)) == (D(10), D(-4), D(3))
    target = BotId(bot) if bot else None
    assert desk.engine.handle(Flatten(account_id=ACCOUNT, bot_id=target)).ok
    if target is None:  # every book's closer fills, although they net against each other
        assert (held(desk, alpha), held(desk, beta), held(desk)) == (D(0), D(0), D(0))
    else:  # beta's buy to cover reduces beta, whatever the account holds
        assert (held(desk, beta), held(desk)) == (D(0), D(7))


def test_another_bots_round_trip_leaves_a_bots_resting_stop_alone() -> None:
    desk = funded_desk()
    alpha, beta = two_bots(desk)
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok
    stop = desk.engine.handle(
        submit(
            side=SELL,
            qty="10",
            kind=OrderType.STOP,
            bot_id=alpha,
            reduce_only=True,
            trigger_price=price("95"),
        )
    )
    assert stop.ok, stop
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok
    assert desk.order(str(stop.client_order_id)).status is OrderStatus.ACCEPTED
    desk.quote(AAPL, "94")
    assert (held(desk, alpha), held(desk)) == (D(0), D(0))


def test_a_sale_undone_with_its_batch_cancels_no_take_profit_even_if_a_mark_came_first() -> None:
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10")).ok
    take_profit = desk.engine.handle(
        submit(side=SELL, qty="10", kind=LIMIT, px="110", reduce_only=True)
    )

    def sell_then_fail() -> None:
        with desk.engine.batch(ACCOUNT):
            assert desk.engine.handle(submit(side=SELL, qty="10")).ok
            desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), D(100)))  # the market thread
            raise RuntimeError("the batch fails: the sale is not stored")

    with pytest.raises(RuntimeError):
        sell_then_fail()
    desk.engine.pump()
    assert held(desk) == D(10)
    assert desk.order(str(take_profit.client_order_id)).status is OrderStatus.ACCEPTED
    desk.quote(AAPL, "111")
    assert held(desk) == D(0)
