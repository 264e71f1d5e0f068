"""Instruments carry the rules that turn user numbers into valid prices and quantities."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import pytest

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.values import Currency, Price, Quantity, money, price, quantity

INR = Currency("INR")
NIFTY_CE = Instrument(
    id=InstrumentId("NIFTY26AUG25000CE.NFO"),
    asset_class=AssetClass.OPTION,
    currency=INR,
    tick_size=Decimal("0.05"),
    lot_size=Decimal(75),
    freeze_quantity=Decimal(1800),
    underlying="NIFTY",
    expiry=date(2026, 8, 27),
    strike=Decimal(25000),
    right=OptionRight.CALL,
)
BTC_PERP = Instrument(
    id=InstrumentId("BTC/USDT:USDT.BINANCE"),
    asset_class=AssetClass.CRYPTO_PERPETUAL,
    currency=Currency("USDT"),
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.001"),
    min_quantity=Decimal("0.001"),
    base_currency=Currency("BTC"),
)


def test_an_option_knows_its_contract() -> None:
    assert NIFTY_CE.venue == Venue("NFO")
    assert NIFTY_CE.symbol == "NIFTY26AUG25000CE"
    assert NIFTY_CE.tradable


def test_a_price_off_the_tick_is_refused_or_rounded_on_request() -> None:
    with pytest.raises(ValueError, match=r"not a multiple of the tick 0\.05"):
        NIFTY_CE.make_price("101.03")
    assert NIFTY_CE.make_price("101.03", ROUND_HALF_EVEN) == Price(Decimal("101.05"))
    assert NIFTY_CE.make_price("101.10") == price("101.1")


def test_a_quantity_must_be_whole_lots() -> None:
    with pytest.raises(ValueError, match="multiple of the lot size 75"):
        NIFTY_CE.make_qty("100")
    assert NIFTY_CE.make_qty("100", ROUND_DOWN) == Quantity(Decimal(75))
    assert NIFTY_CE.floor_qty("225") == quantity("225")
    assert BTC_PERP.make_qty("0.012") == quantity("0.012")


def test_notional_uses_the_multiplier_and_currency() -> None:
    fut = Instrument(
        id=InstrumentId("ES.CME"),
        asset_class=AssetClass.FUTURE,
        currency=Currency("USD"),
        tick_size=Decimal("0.25"),
        multiplier=Decimal(50),
        underlying="SPX",
        expiry=date(2026, 12, 18),
    )
    assert fut.notional(quantity("2"), price("5000.25")) == money("500025", "USD")


def test_an_index_is_not_tradable() -> None:
    index = Instrument(InstrumentId("NIFTY.NSE"), AssetClass.INDEX, INR, Decimal("0.05"))
    assert not index.tradable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"asset_class": AssetClass.OPTION}, "needs an underlying"),
        (
            {"asset_class": AssetClass.OPTION, "underlying": "NIFTY", "expiry": date(2026, 8, 27)},
            "needs a strike and a right",
        ),
        ({"asset_class": AssetClass.FUTURE, "underlying": "NIFTY"}, "needs an expiry"),
        ({"asset_class": AssetClass.EQUITY, "strike": Decimal(1)}, "only options have a strike"),
        ({"asset_class": AssetClass.EQUITY, "tick_size": Decimal(0)}, "tick_size > 0"),
        (
            {
                "asset_class": AssetClass.EQUITY,
                "min_quantity": Decimal(5),
                "max_quantity": Decimal(1),
            },
            "min_quantity 5 > max_quantity 1",
        ),
    ],
)
def test_inconsistent_instruments_are_refused(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "id": InstrumentId("X.NSE"),
        "currency": INR,
        "tick_size": Decimal("0.05"),
    }
    with pytest.raises(ValueError, match=message):
        Instrument(**{**base, **kwargs})  # type: ignore[arg-type]


def test_a_float_tick_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        Instrument(InstrumentId("X.NSE"), AssetClass.EQUITY, INR, 0.05)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "right"),
    [("CE", OptionRight.CALL), ("pe", OptionRight.PUT), ("Call", OptionRight.CALL)],
)
def test_option_rights_parse_from_venue_spellings(text: str, right: OptionRight) -> None:
    assert OptionRight.parse(text) is right
