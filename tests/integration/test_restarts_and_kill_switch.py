"""Restarts, the kill switch and a venue that is down, from a review: what the trader asked for
still holds after a restart (a halted account sends nothing lost in flight; a cancel a part fill
raced is sent again); the kill switch halts every account whatever fails while it flattens, and
its cancels and closes go once a hanging venue answers again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import CancelOrder, Flatten, ModifyOrder
from algodesk.domain.events import OrderEvent, OrderFilled
from algodesk.domain.identifiers import AccountId, ClientOrderId
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import Price, money
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.bots import BotService
from algodesk.services.engine import Engine
from algodesk.services.kill_switch import pull_kill_switch
from algodesk.services.ledger import LedgerService
from algodesk.services.risk_context import EngineLimits
from algodesk.services.venue_guard import GuardedBroker
from algodesk.testing.brokers import HangingBroker
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT, T0
from tests.faults import FailingCommits
from tests.integration.test_bots import ALPHA, alpha
from tests.integration.test_engine import AAPL, MSFT, PAPER, USD, Desk, funded_desk, submit
from tests.integration.test_recovery import DiesBeforeTheVenue

D = Decimal
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


def test_a_stopped_bots_order_lost_in_flight_is_not_sent_after_a_restart() -> None:
    """A bot's buy is stored and never reached the venue; the trader stops the bot (its
    flatten's cancel of the buy is refused: the venue has no such order). After a restart the
    buy does not go out: the gates would deny a stopped bot's entry (BOT_NOT_RUNNING)."""
    limits = RiskLimits(max_orders_per_second=None)
    before = Desk(limits=limits, venue=DiesBeforeTheVenue, bots=BotService)
    before.ledger.deposit(ACCOUNT, money("100000", USD), key="seed")
    before.quote(AAPL, "100")
    assert before.bots is not None
    before.bots.create(alpha(), by="admin")
    before.bots.move(ALPHA, "start", by="admin")
    sent = before.engine.handle(submit(qty="10", bot_id=ALPHA))
    assert sent.ok
    coid = str(sent.client_order_id)
    assert before.order(coid).status is OrderStatus.SUBMITTED  # the venue never had it
    before.bots.stop(ALPHA, by="admin", reason="retired", handle=before.engine.handle)

    after = Desk(store=before.store, limits=limits, bots=BotService)  # the process restarts
    after.quote(AAPL, "100")
    report = after.recover()
    after.quote(AAPL, "100")
    lost = after.order(coid)
    assert lost.status is OrderStatus.REJECTED, report
    assert "BOT_NOT_RUNNING" in (lost.last_reason or ""), lost.last_reason
    assert after.engine.book_position(ACCOUNT, ALPHA, AAPL.id) == D(0)


def two_accounts(factory: FailingCommits) -> tuple[Engine, FixedClock]:
    """An engine of two funded accounts on the paper exchange, AAPL marked at 100."""
    clock = FixedClock(T0)
    market = FakeMarket([AAPL])
    paper = PaperBroker(PaperBrokerConfig(), market.instruments, clock.now)
    paper.hold_positions([])
    ledger = LedgerService(factory, clock)
    free = RiskLimits(max_orders_per_second=None)
    limits = EngineLimits({ACCOUNT: free, OTHER: free})
    engine = Engine(factory, clock, market, {PAPER: paper}, limits, ledger)
    for account in (ACCOUNT, OTHER):
        ledger.deposit(account, money("100000", USD))
    market.set_mark(AAPL.id, D(100), T0)
    paper.on_quote(Quote(AAPL.id, T0, D(100)))
    return engine, clock


def test_a_failure_while_flattening_one_account_leaves_no_account_trading() -> None:
    """The kill switch halts every account before it flattens any: a write that fails while
    the first is flattened (a full disk, a lost connection) leaves neither trading, the other
    is still flattened and audited, and the answer says what failed."""
    store = InMemoryStore()
    factory = FailingCommits(store)
    engine, clock = two_accounts(factory)
    resting = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    assert resting.ok

    def fail_once_all_are_halted(item: object) -> None:
        halted = isinstance(item, JournalRecord) and item.kind == "TradingStateSet"
        if halted and item.account_id == OTHER:  # type: ignore[union-attr]
            factory.fail_next = True  # the next write: the first account's first cancel

    engine.subscribe(fail_once_all_are_halted)
    pulled = pull_kill_switch(engine, factory, clock, "ops", "stop everything")
    assert (pulled.ok, pulled.code) == (False, "KILL_SWITCH_INCOMPLETE"), pulled
    assert f"{ACCOUNT}: flatten: OSError" in pulled.message, pulled
    assert engine.trading_state(ACCOUNT) is TradingState.HALTED
    assert engine.trading_state(OTHER) is TradingState.HALTED
    with InMemoryUnitOfWork(store) as uow:
        audited = [r.kind for r in uow.journal.records(OTHER) if r.kind == "KillSwitch"]
        (first,) = [r for r in uow.journal.records(ACCOUNT) if r.kind == "KillSwitch"]
    assert audited == ["KillSwitch"]
    assert str(first.payload["failed"]).startswith("flatten: OSError"), first.payload
    # The failed flatten can be asked for again: the resting buy goes.
    assert engine.handle(Flatten(account_id=ACCOUNT)).ok
    with InMemoryUnitOfWork(store) as uow:
        left = uow.orders.get(ClientOrderId(str(resting.client_order_id)))
    assert left is not None
    assert left.status is OrderStatus.CANCELED


class HangingDesk:
    """An engine whose paper exchange is reached through a venue guard (a timeout of 0.2 s)
    over a link that can hang, as a remote venue is; AAPL and MSFT marked at 100. With
    ``reduce_only_venue`` False the exchange is never told the books' positions, so it fills a
    reduce-only order as any other (as a venue without reduce-only orders does); with
    ``failing`` its storage's next commit fails when asked (``failing.fail_next``)."""

    def __init__(self, reduce_only_venue: bool = True, failing: bool = False) -> None:
        self.store = InMemoryStore()
        self.clock = FixedClock(T0)
        self.market = FakeMarket([AAPL, MSFT])
        self.paper = PaperBroker(PaperBrokerConfig(), self.market.instruments, self.clock.now)
        if reduce_only_venue:
            self.paper.hold_positions([])
        self.link = HangingBroker(self.paper)
        self.guard = GuardedBroker(self.link, self.clock, timeout=timedelta(milliseconds=200))
        self.failing = FailingCommits(self.store)
        self.factory: Callable[[], UnitOfWork] = (
            self.failing if failing else partial(InMemoryUnitOfWork, self.store)
        )
        ledger = LedgerService(self.factory, self.clock)
        limits = EngineLimits({ACCOUNT: RiskLimits(max_orders_per_second=None)})
        self.engine = Engine(
            self.factory, self.clock, self.market, {PAPER: self.guard}, limits, ledger
        )
        ledger.deposit(ACCOUNT, money("100000", USD))
        self.quote(AAPL, "100")
        self.quote(MSFT, "100")

    def quote(self, instrument: Instrument, last: str) -> None:
        self.market.set_mark(instrument.id, D(last), self.clock.now())
        self.paper.on_quote(Quote(instrument.id, self.clock.now(), D(last)))
        self.engine.pump()

    def order(self, coid: str | None) -> Order:
        with self.factory() as uow:
            order = uow.orders.get(ClientOrderId(str(coid)))
        assert order is not None
        return order

    def close(self) -> None:
        self.link.release()
        self.guard.close()


@pytest.fixture
def hanging() -> Iterator[HangingDesk]:
    desk = HangingDesk()
    yield desk
    desk.close()


def test_the_kill_switch_finishes_its_cancels_and_closes_once_a_hanging_venue_answers(
    hanging: HangingDesk,
) -> None:
    """A venue hangs while the kill switch runs: its guard times the first cancel out and
    then refuses every request for its cool-off. Those never left; once the venue answers
    again, they go: the canceled buy does not fill, the long is closed."""
    engine = hanging.engine
    assert engine.handle(submit(qty="5")).ok  # long 5 AAPL
    first = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95", instrument=MSFT.id))
    second = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    assert first.ok
    assert second.ok
    hanging.link.hang = {"cancel"}
    pulled = pull_kill_switch(engine, hanging.factory, hanging.clock, "ops", "venue hangs")
    assert pulled.ok, pulled
    assert hanging.order(second.client_order_id).status is OrderStatus.PENDING_CANCEL
    assert engine.unsent == 2  # the buy's cancel and the long's close never left
    hanging.quote(AAPL, "100")  # still in the cool-off: kept
    assert engine.unsent == 2
    hanging.link.release()  # the venue answers again (the first cancel goes through too)
    hanging.clock.advance(timedelta(seconds=30))  # past the guard's cool-off
    hanging.quote(AAPL, "100")  # the next mark's pump sends what was kept
    assert engine.unsent == 0
    hanging.quote(AAPL, "94")  # the market trades through the buy the kill switch canceled
    hanging.quote(AAPL, "94")
    assert hanging.order(second.client_order_id).status is OrderStatus.CANCELED
    assert hanging.order(first.client_order_id).status is OrderStatus.CANCELED
    assert engine.position(ACCOUNT, None, AAPL.id) == D(0)


def test_a_venue_known_down_rejects_a_new_entry_at_once_and_a_modify_keeps_the_terms(
    hanging: HangingDesk,
) -> None:
    """An entry refused in the guard's cool-off never left: it is rejected (sent later, it
    would trade at a price its signal never saw); a modify refused so is rejected, and the
    order keeps its terms."""
    engine = hanging.engine
    resting = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    assert resting.ok
    hanging.link.hang = {"submit"}
    timed_out = engine.handle(submit(qty="1"))  # no answer: in flight, the guard cools off
    assert timed_out.ok
    assert hanging.order(timed_out.client_order_id).status is OrderStatus.SUBMITTED
    refused = engine.handle(submit(qty="2"))
    assert (refused.ok, refused.code) == (False, "VENUE_UNAVAILABLE"), refused
    assert hanging.order(refused.client_order_id).status is OrderStatus.REJECTED
    modify = ModifyOrder(
        account_id=ACCOUNT,
        client_order_id=ClientOrderId(str(resting.client_order_id)),
        price=Price(D("96")),
    )
    engine.handle(modify)
    kept = hanging.order(resting.client_order_id)
    assert kept.status is OrderStatus.ACCEPTED
    assert kept.price == Price(D("95"))
    assert kept.last_reason is not None
    assert kept.last_reason.startswith("VENUE_UNAVAILABLE"), kept.last_reason
    assert engine.unsent == 0  # nothing kept to send later


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
