"""Contract of the instrument master: every adapter stores instruments exactly, replaces them by
id, and finds them by venue, underlying, class and symbol prefix."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from algodesk.adapters.storage.memory.instruments import InMemoryInstrumentStore
from algodesk.adapters.storage.sql.instruments import SqlInstrumentStore
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import Currency
from algodesk.ports.instruments import InstrumentStore

INR = Currency("INR")
TODAY = date(2026, 11, 21)


def option(strike: int, right: OptionRight, lot: str = "65") -> Instrument:
    tag = "CE" if right is OptionRight.CALL else "PE"
    return Instrument(
        InstrumentId(f"NIFTY26DEC{strike}{tag}.NFO"), AssetClass.OPTION, INR, Decimal("0.05"),
        lot_size=Decimal(lot), freeze_quantity=Decimal(1800), underlying="NIFTY",
        expiry=date(2026, 12, 29), strike=Decimal(strike), right=right,
    )  # fmt: skip


INDEX = Instrument(InstrumentId("NIFTY_50.NSE"), AssetClass.INDEX, INR, Decimal("0.05"))
BTC = Instrument(
    InstrumentId("BTC/USDT.BINANCE"), AssetClass.CRYPTO_SPOT, Currency("USDT"),
    Decimal("0.01"), lot_size=Decimal("0.00001"), min_quantity=Decimal("0.0001"),
    base_currency=Currency("BTC"),
)  # fmt: skip


@pytest.fixture
def store(store_engine: sa.Engine | None) -> InstrumentStore:
    if store_engine is None:
        return InMemoryInstrumentStore()
    return SqlInstrumentStore(store_engine)


def test_instruments_round_trip_exactly(store: InstrumentStore) -> None:
    items = [option(26000, OptionRight.CALL), option(26000, OptionRight.PUT), INDEX, BTC]
    assert store.put(items, "test", TODAY) == 4
    for item in items:
        assert store.get(item.id) == item
    assert store.get(InstrumentId("NOPE.NSE")) is None
    assert store.count() == 4


def test_put_replaces_by_id(store: InstrumentStore) -> None:
    store.put([option(26000, OptionRight.CALL)], "day1", TODAY)
    store.put([option(26000, OptionRight.CALL, lot="75")], "day2", TODAY)
    found = store.get(option(26000, OptionRight.CALL).id)
    assert found is not None
    assert found.lot_size == Decimal(75)
    assert store.count() == 1


def test_find_filters(store: InstrumentStore) -> None:
    calls = [option(s, OptionRight.CALL) for s in (25950, 26000, 26050)]
    store.put([*calls, option(26000, OptionRight.PUT), INDEX, BTC], "test", TODAY)
    assert [i.id for i in store.find(underlying="NIFTY", asset_class=AssetClass.OPTION)] == sorted(
        [*(c.id for c in calls), option(26000, OptionRight.PUT).id], key=lambda i: i.value
    )
    assert store.find(venue=Venue("NSE")) == [INDEX]
    assert store.find(venue=Venue("BINANCE"), symbol_prefix="BTC/") == [BTC]
    # '_' in a prefix is a literal character, not a wildcard.
    assert store.find(symbol_prefix="NIFTY_") == [INDEX]
    assert store.find(symbol_prefix="NIFTYX") == []


def test_put_with_replace_drops_the_venues_old_instruments(store: InstrumentStore) -> None:
    """A daily dump replaces its exchanges' master: a renamed contract does not linger."""
    store.put([option(26000, OptionRight.CALL), INDEX, BTC], "day1", TODAY)
    renamed = replace(option(26000, OptionRight.CALL), id=InstrumentId("NIFTY26D2926000CE.NFO"))
    store.put([renamed], "day2", TODAY, replace={Venue("NFO")})
    assert store.find(underlying="NIFTY") == [renamed]
    assert store.get(INDEX.id) == INDEX  # other venues are untouched
    assert store.count() == 3


def test_a_prefix_with_a_percent_sign_is_literal(store: InstrumentStore) -> None:
    odd = Instrument(InstrumentId("A%B.NSE"), AssetClass.EQUITY, INR, Decimal("0.05"))
    store.put([odd, INDEX], "test", TODAY)
    assert store.find(symbol_prefix="A%") == [odd]
    assert store.find(symbol_prefix="%") == []
