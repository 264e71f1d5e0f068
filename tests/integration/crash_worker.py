"""A desk process for the crash test: an engine on SQLite with the paper exchange, applying a
fixed burst of keyed commands and printing ``done N`` once each outcome is committed.

Run as ``python -m tests.integration.crash_worker DB_URL COUNT``. At the end it prints the
client order ids of the paper exchange's book and of the stored open orders.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.sql.engine import make_engine
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.commands import CancelOrder, Command, SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.recovery import recover_paper
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket

ACCOUNT = AccountId("crash")
PAPER = Venue("PAPER")
AAPL = Instrument(InstrumentId("AAPL.PAPER"), AssetClass.EQUITY, Currency("USD"), Decimal("0.01"))


def command(n: int, resting: list[str]) -> Command:
    key = f"cmd-{n}"
    kind = n % 4
    if n % 8 == 3 and resting:
        return CancelOrder(
            account_id=ACCOUNT, client_order_id=ClientOrderId(resting[-1]), idempotency_key=key
        )
    side = OrderSide.BUY if kind in (0, 3) else OrderSide.SELL
    if kind == 1:
        return SubmitOrder(
            account_id=ACCOUNT,
            instrument_id=AAPL.id,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=quantity("1"),
            price=price("99"),
            idempotency_key=key,
        )
    return SubmitOrder(
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=side,
        order_type=OrderType.MARKET,
        quantity=quantity("1"),
        idempotency_key=key,
    )


def main(url: str, count: int) -> None:
    engine_db = make_engine(url)
    clock = FixedClock()
    market = FakeMarket([AAPL])
    market.set_mark(AAPL.id, Decimal(100), clock.now())
    paper = PaperBroker(PaperBrokerConfig(), market.instruments, clock.now)
    factory = lambda: SqlUnitOfWork(engine_db)  # noqa: E731
    ledger = LedgerService(factory, clock)
    limits = EngineLimits({ACCOUNT: RiskLimits(max_orders_per_second=None)})
    engine = Engine(factory, clock, market, {PAPER: paper}, limits, ledger)
    recovered = recover_paper(engine, factory, clock, PAPER, paper.restore, paper.hold_positions)
    print("recovered", recovered, flush=True)
    ledger.deposit(ACCOUNT, money("1000000", "USD"), key="seed")
    paper.on_quote(Quote(AAPL.id, clock.now(), Decimal(100)))
    resting: list[str] = []
    for n in range(count):
        cmd = command(n, resting)
        outcome = engine.handle(cmd)
        if (
            isinstance(cmd, SubmitOrder)
            and cmd.order_type is OrderType.LIMIT
            and outcome.client_order_id
        ):
            resting.append(outcome.client_order_id)
        elif isinstance(cmd, CancelOrder) and resting:
            resting.pop()
        print(f"done {n}", flush=True)
    with factory() as uow:
        stored = sorted(o.client_order_id.value for o in uow.orders.list(ACCOUNT, open_only=True))
    book = sorted(o.client_order_id.value for o in paper.working_orders)
    print("book", ",".join(book), flush=True)
    print("stored", ",".join(stored), flush=True)
    engine_db.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
