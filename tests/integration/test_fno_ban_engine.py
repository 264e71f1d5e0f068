"""The F&O ban list in the engine: NSE's file in the desk's data directory, read as it
changes; without today's list, new positions in stock derivatives are denied (fail closed)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.feeds.fno_ban_file import FnoBanFile
from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import Venue
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money, price, quantity
from algodesk.services.engine import Engine
from algodesk.services.ledger import LedgerService
from algodesk.services.outcomes import Outcome
from algodesk.services.risk_context import EngineLimits
from algodesk.testing.clock import FixedClock, Ticks
from algodesk.testing.market import FakeMarket
from tests.conftest import ACCOUNT, T0
from tests.scenarios.test_gates import INR, NIFTY_CE, RELIANCE_CE

# T0 is 14:45 in India on 5 January 2026.


class Desk:
    def __init__(self, ban_file: Path) -> None:
        store = InMemoryStore()
        self.clock = FixedClock(T0)
        self.ticks = Ticks()
        self.market = FakeMarket([RELIANCE_CE, NIFTY_CE])
        paper = PaperBroker(PaperBrokerConfig(), self.market.instruments, self.clock.now)
        ledger = LedgerService(lambda: InMemoryUnitOfWork(store), self.clock)
        ledger.deposit(ACCOUNT, money("10000000", INR))
        limits = EngineLimits(
            {ACCOUNT: RiskLimits(max_orders_per_second=None)},
            fno_ban=FnoBanFile(ban_file, monotonic=self.ticks),
        )
        self.engine = Engine(
            lambda: InMemoryUnitOfWork(store),
            self.clock,
            self.market,
            {Venue("NFO"): paper},
            limits,
            ledger,
        )
        for instrument in (RELIANCE_CE, NIFTY_CE):
            self.market.set_mark(instrument.id, Decimal(20), T0)
            paper.on_quote(Quote(instrument.id, T0, Decimal(20)))

    def buy(self, instrument: Instrument, lots: int = 1) -> Outcome:
        self.ticks.now += 1.0  # the file is looked at again
        return self.engine.handle(
            SubmitOrder(
                account_id=ACCOUNT,
                instrument_id=instrument.id,
                side=OrderSide.BUY,
                order_type=OrderType.LIMIT,
                quantity=quantity(str(instrument.lot_size * lots)),
                price=price("20"),
            )
        )


def _write(path: Path, text: str, stamp: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def ban_file(tmp_path: Path) -> Path:
    return tmp_path / "fo_secban.csv"


def test_stock_options_wait_for_todays_ban_list_and_obey_it(ban_file: Path) -> None:
    desk = Desk(ban_file)
    none = desk.buy(RELIANCE_CE)
    assert none.code == "FNO_BAN_LIST_MISSING", none
    assert f"no F&O ban list at {ban_file}" in none.message
    assert desk.buy(NIFTY_CE).ok  # index options are never banned
    _write(ban_file, "Securities in Ban For Trade Date 02-JAN-2026:\n1,SAIL\n", 1)
    stale = desk.buy(RELIANCE_CE)
    assert stale.code == "FNO_BAN_LIST_MISSING", stale
    assert "for trade date 2026-01-02, not today's 2026-01-05" in stale.message
    _write(ban_file, "Securities in Ban For Trade Date 05-JAN-2026:\n1,RELIANCE\n", 2)
    banned = desk.buy(RELIANCE_CE)
    assert banned.code == "INSTRUMENT_BANNED", banned
    _write(ban_file, "Securities in Ban For Trade Date 05-JAN-2026:\n1,SAIL\n", 3)
    assert desk.buy(RELIANCE_CE).ok
