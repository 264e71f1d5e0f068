"""Ledger verify throughput: entries checked per second (chain, balance, FIFO recomputation).

Prints one table. DESIGN.md §6 target: >= 1,000,000 entries/s. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId, TradeId, Venue
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.ledger.booking import AccountBook
from algodesk.domain.ledger.chain import seal
from algodesk.domain.ledger.entries import LedgerEntry
from algodesk.domain.ledger.verify import verify
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.ports.storage import UnitOfWork

TARGET = 1_000_000
ACCOUNT = AccountId("bench")
USD = Currency("USD")
INSTRUMENT = Instrument(InstrumentId("AAPL.NASDAQ"), AssetClass.EQUITY, USD, Decimal("0.01"))
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def build_chain(n: int) -> list[LedgerEntry]:
    """``n`` fill entries: alternating buys and sells, so FIFO closes lots all the way."""
    book = AccountBook(ACCOUNT)
    entries = []
    for i in range(n):
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        fill = Fill(
            account_id=ACCOUNT,
            client_order_id=ClientOrderId(f"B{i}"),
            instrument_id=INSTRUMENT.id,
            venue=Venue("PAPER"),
            trade_id=TradeId(f"t{i}"),
            side=side,
            quantity=quantity("10"),
            price=price(str(Decimal(10000 + i % 97) / 100)),
            fee=money("0.01", USD),
            ts=T0 + timedelta(seconds=i),
        )
        entry = seal(book.fill_entry(fill, INSTRUMENT), book.head_seq + 1, book.head_hash)
        book.replay(entry)
        entries.append(entry)
    return entries


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def store_and_verify(factory: Callable[[], UnitOfWork], entries: list[LedgerEntry]) -> float:
    with factory() as uow:
        for e in entries:
            uow.ledger.append(e)
        uow.commit()

    def run() -> None:
        with factory() as uow:
            assert verify(uow.ledger.entries(), uow.ledger.heads()).ok

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    entries = build_chain(args.entries)
    rows = [("in memory (domain verify only)", timed(lambda: verify(entries)))]
    store = InMemoryStore()
    rows.append(("in-memory store", store_and_verify(lambda: InMemoryUnitOfWork(store), entries)))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        rows.append(
            ("SQLite (read + verify)", store_and_verify(lambda: SqlUnitOfWork(engine), entries))
        )
        engine.dispose()
    print(f"ledger verify, {args.entries:,} fill entries (target {TARGET:,} entries/s)")
    print(f"{'where':<32} {'seconds':>9} {'entries/s':>12} {'of target':>10}")
    for name, seconds in rows:
        rate = args.entries / seconds
        print(f"{name:<32} {seconds:>9.3f} {rate:>12,.0f} {rate / TARGET:>9.1%}")


if __name__ == "__main__":
    main()
