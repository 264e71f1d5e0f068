"""Restarts, from a review: what the trader asked for still holds after a restart (a halted
account sends nothing lost in flight; a cancel a part fill raced is sent again)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.commands import CancelOrder
from algodesk.domain.events import OrderEvent, OrderFilled
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import TradingState
from algodesk.domain.values import money
from algodesk.services.kill_switch import pull_kill_switch
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, USD, Desk, funded_desk, submit
from tests.integration.test_recovery import DiesBeforeTheVenue

D = Decimal
ALPHA = BotId("alpha")
OTHER = AccountId("acct-2")


def test_a_bots_order_lost_in_flight_stays_unsent_once_the_kill_switch_halted_its_account() -> None:
    before = funded_desk(venue=DiesBeforeTheVenue)
    before.ledger.allocate(ACCOUNT, ALPHA, money("20000", USD))
    sent = before.engine.handle(submit(qty="10", bot_id=ALPHA))
    assert sent.ok
    coid = str(sent.client_order_id)
    assert before.order(coid).status is OrderStatus.SUBMITTED  # the venue never had it
    pulled = pull_kill_switch(before.engine, before.factory, before.clock, "ops", "stop it all")
    assert pulled.ok
    assert before.engine.trading_state(ACCOUNT, ALPHA) is TradingState.ACTIVE  # the bot's own

    after = Desk(store=before.store)  # the process restarts
    after.quote(AAPL, "101")
    assert after.engine.trading_state(ACCOUNT) is TradingState.HALTED  # the halt survived
    report = after.recover()
    after.quote(AAPL, "101")
    # The account is halted, which halts its bots: the lost buy does not go out now.
    assert after.order(coid).status is OrderStatus.REJECTED, report
    assert after.engine.position(ACCOUNT, None, AAPL.id) == D(0)


class FillRacesTheCancelThenDies:
    """The paper exchange, where a quote fills part of an order just before its cancel reaches
    the book (the market thread won the race), and the process dies once that fill is stored,
    before the cancel is heard."""

    def __init__(self, inner: PaperBroker) -> None:
        self.venue = inner.venue
        self._inner = inner
        self.race: Quote | None = None  # delivered just before the cancel
        self.dead = False

    def submit(self, order: Order) -> None:
        self._inner.submit(order)

    def modify(self, order: Order, *args: Any) -> None:
        self._inner.modify(order, *args)

    def cancel(self, order: Order) -> None:
        if self.race is not None:
            self._inner.on_quote(self.race)
        self._inner.cancel(order)
        self.dead = True

    def drain(self) -> list[OrderEvent]:
        events = self._inner.drain()
        if not self.dead:
            return events
        kept = []
        for event in events:  # up to the first fill: then the process dies
            kept.append(event)
            if isinstance(event, OrderFilled):
                break
        return kept


def test_a_cancel_a_part_fill_raced_is_sent_again_at_a_restart() -> None:
    config = PaperBrokerConfig(max_fill_per_quote=D(4))
    made: list[FillRacesTheCancelThenDies] = []

    def racing(paper: PaperBroker) -> FillRacesTheCancelThenDies:
        made.append(FillRacesTheCancelThenDies(paper))
        return made[-1]

    before = funded_desk(paper_config=config, venue=racing)
    resting = before.engine.handle(submit(qty="10", kind=OrderType.LIMIT, px="99"))
    assert resting.ok
    coid = str(resting.client_order_id)
    assert before.order(coid).status is OrderStatus.ACCEPTED
    made[0].race = Quote(AAPL.id, before.clock.now(), D(98))
    cancel = CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId(coid))
    assert before.engine.handle(cancel).ok
    stored = before.order(coid)
    assert stored.filled_quantity.value == D(4)  # the fill that won the race is booked
    assert stored.status is OrderStatus.PARTIALLY_FILLED
    assert stored.outstanding == [OrderStatus.PENDING_CANCEL]  # and the cancel is on record

    after = Desk(store=before.store, paper_config=config)  # the process restarts
    report = after.recover()
    after.quote(AAPL, "98")
    after.quote(AAPL, "98")
    # The trader canceled it: after the restart it buys no more.
    assert after.engine.position(ACCOUNT, None, AAPL.id) == D(4), report
    assert after.order(coid).status is OrderStatus.CANCELED
