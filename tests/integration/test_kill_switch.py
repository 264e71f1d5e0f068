"""The kill switch with 50 open positions and a venue whose calls hang: it halts, sends every
cancel and close it can, and returns within a second; new orders are denied."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId, InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.services.engine import Engine
from algodesk.services.kill_switch import pull_kill_switch
from algodesk.services.ledger import LedgerService
from algodesk.services.risk_context import EngineLimits
from algodesk.services.venue_guard import GuardedBroker
from algodesk.testing.brokers import HangingBroker
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT, T0

USD = Currency("USD")
STOCKS = [
    Instrument(InstrumentId(f"S{n:02d}.PAPER"), AssetClass.EQUITY, USD, Decimal("0.01"))
    for n in range(50)
]


def test_the_kill_switch_halts_and_flattens_within_a_second_while_the_venue_hangs() -> None:
    store = InMemoryStore()
    clock = FixedClock(T0)
    market = FakeMarket(STOCKS)
    paper = PaperBroker(PaperBrokerConfig(), market.instruments, clock.now)
    hanging = HangingBroker(paper)
    guarded = GuardedBroker(hanging, clock, timeout=timedelta(milliseconds=200))
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), clock)
    limits = EngineLimits({ACCOUNT: RiskLimits(max_orders_per_second=None)})
    engine = Engine(
        lambda: InMemoryUnitOfWork(store), clock, market, {Venue("PAPER"): guarded}, limits, ledger
    )
    ledger.deposit(ACCOUNT, money("1000000", USD))
    for stock in STOCKS:
        market.set_mark(stock.id, Decimal(100), T0)
        paper.on_quote(Quote(stock.id, T0, Decimal(100)))
        buy = SubmitOrder(
            account_id=ACCOUNT,
            instrument_id=stock.id,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=quantity("5"),
        )
        assert engine.handle(buy).ok
    resting = engine.handle(
        SubmitOrder(
            account_id=ACCOUNT,
            instrument_id=STOCKS[0].id,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=quantity("1"),
            price=price("95"),
        )
    )
    assert len(ledger.summary(ACCOUNT).open_positions) == 50

    hanging.hang = {"submit", "cancel"}
    try:
        started = time.perf_counter()
        outcome = pull_kill_switch(
            engine,
            lambda: InMemoryUnitOfWork(store),
            clock,
            by="ops@desk",
            reason="venue unresponsive, stop everything",
        )
        elapsed = time.perf_counter() - started
    finally:
        hanging.release()
    assert outcome.ok
    assert elapsed < 1.0, f"kill switch took {elapsed:.2f}s"
    assert outcome.message == "acct-1: canceled 1 orders, closing 50 positions"
    assert engine.trading_state(ACCOUNT) is TradingState.HALTED
    denied = engine.handle(
        SubmitOrder(
            account_id=ACCOUNT,
            instrument_id=STOCKS[1].id,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=quantity("1"),
        )
    )
    assert denied.code == "TRADING_HALTED"
    with InMemoryUnitOfWork(store) as uow:
        closing = [o for o in uow.orders.list(ACCOUNT) if o.reduce_only]
        audit = uow.journal.records(ACCOUNT, "KillSwitch")
        working = uow.orders.get(ClientOrderId(str(resting.client_order_id)))
    assert len(closing) == 50  # every close was sent or is in flight: none was gated away
    assert {o.status for o in closing} <= {OrderStatus.SUBMITTED, OrderStatus.FILLED}
    assert working is not None
    assert working.status is OrderStatus.PENDING_CANCEL  # the cancel's outcome is unknown
    assert audit[0].payload["by"] == "ops@desk"
    guarded.close()
