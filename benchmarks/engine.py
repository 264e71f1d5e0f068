"""Engine throughput: market orders per second through every gate, the paper exchange, the
journal and the ledger, in process on one core. DESIGN/issue 3 target: >= 20,000 orders/s.

Each storage is measured twice: one order per transaction (an API call, a strategy's order),
and in engine batches of ``--batch`` orders per transaction (how the alert path stores a
burst of alerts: :meth:`Engine.batch`). Prints one table. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.bootstrap.tuning import tune_gc
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import Currency, money, quantity
from algodesk.ports.storage import UnitOfWork
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.clock import FixedClock
from algodesk.testing.market import FakeMarket

TARGET = 20_000
ACCOUNT = AccountId("bench")
USD = Currency("USD")
INSTRUMENT = Instrument(InstrumentId("AAPL.PAPER"), AssetClass.EQUITY, USD, Decimal("0.01"))


def run(factory: Callable[[], UnitOfWork], orders: int, batch: int = 1) -> float:
    clock = FixedClock()
    market = FakeMarket([INSTRUMENT])
    paper = PaperBroker(PaperBrokerConfig(), market.instruments, clock.now)
    ledger = LedgerService(factory, clock)
    # Every gate runs; the limits are set so that none denies.
    limits = RiskLimits(
        max_notional=Decimal(10_000),
        max_position_qty=Decimal(1_000_000),
        max_gross_exposure=Decimal(10**12),
        max_open_positions=10,
        max_trades_per_day=10**9,
        max_orders_per_second=None,
    )
    engine = Engine(
        factory, clock, market, {Venue("PAPER"): paper}, EngineLimits({ACCOUNT: limits}), ledger
    )
    ledger.deposit(ACCOUNT, money("100000000", USD))
    market.set_mark(INSTRUMENT.id, Decimal(100), clock.now())
    paper.on_quote(Quote(INSTRUMENT.id, clock.now(), Decimal(100)))
    start = time.perf_counter()
    for first in range(0, orders, batch):
        with engine.batch(ACCOUNT) if batch > 1 else contextlib.nullcontext():
            for n in range(first, min(first + batch, orders)):
                side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
                outcome = engine.handle(
                    SubmitOrder(
                        account_id=ACCOUNT,
                        instrument_id=INSTRUMENT.id,
                        side=side,
                        order_type=OrderType.MARKET,
                        quantity=quantity("10"),
                    )
                )
                assert outcome.ok, outcome
    seconds = time.perf_counter() - start
    assert ledger.verify().ok
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--storage", choices=("both", "memory", "sqlite"), default="both")
    parser.add_argument("--batch", type=int, default=32, help="orders per engine batch")
    args = parser.parse_args()
    tune_gc()  # the collector's settings of `algodesk serve`
    rows = []
    for batch in (1, args.batch):
        per = "1 per transaction" if batch == 1 else f"batches of {batch}"
        if args.storage in ("both", "memory"):
            store = InMemoryStore()
            seconds = run(lambda: InMemoryUnitOfWork(store), args.orders, batch)  # noqa: B023
            rows.append((f"in-memory, {per}", seconds))
        if args.storage in ("both", "sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
                migrate(engine)
                sql = run(lambda: SqlUnitOfWork(engine), args.orders, batch)  # noqa: B023
                rows.append((f"SQLite (synchronous=FULL), {per}", sql))
                engine.dispose()
    print(f"engine: {args.orders:,} market orders, every gate, paper fills, ledger booking")
    print(f"(target {TARGET:,} orders/s)")
    print(f"{'storage':<44} {'seconds':>9} {'orders/s':>10} {'of target':>10}")
    for name, seconds in rows:
        rate = args.orders / seconds
        print(f"{name:<44} {seconds:>9.2f} {rate:>10,.0f} {rate / TARGET:>9.1%}")


if __name__ == "__main__":
    main()
