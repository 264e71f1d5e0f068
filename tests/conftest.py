"""Shared fixtures: databases (SQLite in a temp dir, a throwaway PostgreSQL), builders."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.memory.store import (
    DirectUnitOfWork,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from algodesk.adapters.storage.sql.engine import make_engine, migrate
from algodesk.adapters.storage.sql.uow import SqlUnitOfWork
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
)
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.values import Currency, money, price, quantity
from algodesk.ports.storage import UnitOfWork
from algodesk.testing.postgres import TemporaryPostgres

T0 = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
USD = Currency("USD")
ACCOUNT = AccountId("acct-1")
AAPL = Instrument(
    id=InstrumentId("AAPL.NASDAQ"),
    asset_class=AssetClass.EQUITY,
    currency=USD,
    tick_size=Decimal("0.01"),
)

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """One throwaway PostgreSQL server per test process; each test gets its own database."""
    with TemporaryPostgres() as server:
        yield server


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'algodesk.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: SQLite in a temp dir, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    server: TemporaryPostgres = request.getfixturevalue("postgres")
    return server.create_database(f"t{next(_names)}")


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine | None]:
    """For the contract suites of stores kept apart from the unit of work: None for the
    in-memory adapter, else a migrated SQLite or fresh PostgreSQL engine."""
    if request.param == "memory":
        yield None
        return
    if request.param == "sqlite":
        url = _sqlite_url(tmp_path)
    else:
        server: TemporaryPostgres = request.getfixturevalue("postgres")
        url = server.create_database(f"t{next(_names)}")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(
    params=["memory", "direct", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], UnitOfWork]]:
    """A unit-of-work factory on every storage adapter, for the contract suites ("direct":
    the single-threaded in-memory unit of backtests)."""
    if request.param == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    if request.param == "direct":
        direct = InMemoryStore()
        yield lambda: DirectUnitOfWork(direct)
        return
    if request.param == "sqlite":
        url = _sqlite_url(tmp_path)
    else:
        server: TemporaryPostgres = request.getfixturevalue("postgres")
        url = server.create_database(f"t{next(_names)}")
    engine = make_engine(url)
    migrate(engine)
    yield lambda: SqlUnitOfWork(engine)
    engine.dispose()


def make_fill(
    n: int,
    side: OrderSide = OrderSide.BUY,
    qty: str = "10",
    px: str = "100",
    fee: str = "0",
    *,
    account: AccountId = ACCOUNT,
    instrument: InstrumentId = AAPL.id,
    bot: BotId | None = None,
    coid: str | None = None,
    currency: Currency = USD,
) -> Fill:
    return Fill(
        account_id=account,
        client_order_id=ClientOrderId(coid or f"O{n}"),
        instrument_id=instrument,
        venue=Venue("PAPER"),
        trade_id=TradeId(f"T{n}"),
        side=side,
        quantity=quantity(qty),
        price=price(px),
        fee=money(fee, currency),
        ts=T0 + timedelta(minutes=n),
        bot_id=bot,
    )
