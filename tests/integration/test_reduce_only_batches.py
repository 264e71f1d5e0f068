"""Reduce-only orders on the paper exchange with engine batches, partial fills, restarts and
flattens (from review probes): a close at market in the batch that opened the position fills at
once, a trader's reduce-only sale of no bot never turns a flatten into a short, and the
exchange's books stay in step with the ledger."""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.commands import Flatten
from algodesk.domain.identifiers import BotId
from algodesk.domain.orders import OrderSide, OrderStatus, OrderType, TimeInForce
from algodesk.domain.values import money
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, USD, Desk, funded_desk, submit

D = Decimal
SELL = OrderSide.SELL
LIMIT = OrderType.LIMIT


def held(desk: Desk, bot: BotId | None = None) -> Decimal:
    return desk.engine.position(ACCOUNT, bot, AAPL.id)


def paper_held(desk: Desk, bot: BotId | None = None) -> Decimal:
    return desk.paper._held.get((ACCOUNT, bot, AAPL.id), D(0))


def test_a_close_at_market_in_the_batch_that_opened_the_position_fills_at_once() -> None:
    desk = funded_desk()
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(qty="10")).ok
        close = desk.engine.handle(submit(side=SELL, qty="4", reduce_only=True))
        assert close.ok, close
    order = desk.order(str(close.client_order_id))
    assert order.status is OrderStatus.FILLED
    assert held(desk) == D(6)


def test_an_ioc_reduce_only_in_the_opening_batch_does_not_rest() -> None:
    desk = funded_desk()
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(qty="10")).ok
        close = desk.engine.handle(
            submit(
                side=SELL,
                qty="4",
                kind=LIMIT,
                px="99",
                reduce_only=True,
                time_in_force=TimeInForce.IOC,
            )
        )
        assert close.ok, close
    order = desk.order(str(close.client_order_id))
    assert order.status in (OrderStatus.FILLED, OrderStatus.CANCELED)


def test_max_fill_per_quote_closer_finishes() -> None:
    desk = funded_desk(paper_config=PaperBrokerConfig(max_fill_per_quote=D(3)))
    for _ in range(6):
        assert desk.engine.handle(submit(qty="3")).ok
        desk.quote(AAPL, "100")
    assert desk.engine.handle(Flatten(account_id=ACCOUNT)).ok
    for _ in range(12):
        desk.quote(AAPL, "100")
    assert held(desk) == D(0)


def test_a_flatten_never_leaves_the_account_short_when_a_traders_reduce_only_sale_waits() -> None:
    before = funded_desk()
    alpha = BotId("alpha")
    before.ledger.allocate(ACCOUNT, alpha, money("20000", USD))
    assert before.engine.handle(submit(qty="10", bot_id=alpha)).ok
    desk = Desk(store=before.store)  # a restart: the exchange has no price yet
    desk.recover()
    desk.market.set_mark(AAPL.id, D(100), desk.clock.now())
    # The trader sells the account's 10 (held by alpha) reduce-only at market: it waits for a price.
    sale = desk.engine.handle(submit(side=SELL, qty="10", reduce_only=True))
    assert sale.ok, sale
    assert desk.engine.handle(Flatten(account_id=ACCOUNT)).ok  # the kill switch
    desk.quote(AAPL, "100")
    assert desk.engine.holdings(ACCOUNT) == []  # flat after the flatten


def test_a_flatten_never_leaves_the_account_short_with_partial_fills_per_quote() -> None:
    desk = funded_desk(paper_config=PaperBrokerConfig(max_fill_per_quote=D(3)))
    alpha = BotId("alpha")
    desk.ledger.allocate(ACCOUNT, alpha, money("20000", USD))
    for _ in range(4):
        desk.engine.handle(submit(qty="3", bot_id=alpha))
        desk.quote(AAPL, "100")
    assert held(desk, alpha) == D(12)
    sale = desk.engine.handle(submit(side=SELL, qty="12", reduce_only=True))  # fills 3 now
    assert sale.ok, sale
    assert desk.engine.handle(Flatten(account_id=ACCOUNT)).ok
    for _ in range(10):
        desk.quote(AAPL, "100")
    assert desk.engine.holdings(ACCOUNT) == []


def test_a_part_filled_order_restored_at_a_restart_keeps_books_in_step() -> None:
    cfg = PaperBrokerConfig(max_fill_per_quote=D(3))
    before = funded_desk(paper_config=cfg)
    for _ in range(4):
        before.engine.handle(submit(qty="3"))
        before.quote(AAPL, "100")
    tp = before.engine.handle(submit(side=SELL, qty="12", kind=LIMIT, px="101", reduce_only=True))
    before.quote(AAPL, "102")  # 3 of 12
    assert before.order(str(tp.client_order_id)).filled_quantity.value == D(3)
    desk = Desk(store=before.store, paper_config=cfg)
    desk.recover()
    for _ in range(4):
        desk.quote(AAPL, "102")
    assert held(desk) == D(0)
    assert paper_held(desk) == D(0)


def test_two_alerts_in_one_batch_a_buy_then_a_smaller_target() -> None:
    from algodesk.ports.inbox import AlertStatus
    from tests.integration.test_alert_service import Alerts

    alerts = Alerts()
    alerts.post({"action": "buy", "symbol": "AAPL", "qty": "10"})
    b = alerts.post({"action": "buy", "symbol": "AAPL", "position_size": "4", "n": 2})
    alerts.processor.drain()  # one engine batch
    second = alerts.inbox.get(int(b["alert_id"]))
    assert second.status is AlertStatus.EXECUTED
    assert alerts.position() == D(4)  # the reduce-only sale of 6 went at market
