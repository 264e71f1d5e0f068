"""Option symbols in a symbol map: their text, their venue, and which contracts they match."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.market.option_symbols import OptionSymbol, is_option_symbol, symbol_target
from algodesk.domain.market.options import ExpiryRule, OptionChainError, StrikeOffset
from algodesk.domain.values import Currency

NFO = Venue("NFO")


def option(symbol: str, strike: str, right: OptionRight, expiry: date) -> Instrument:
    return Instrument(
        InstrumentId(f"{symbol}.NFO"), AssetClass.OPTION, Currency("INR"), Decimal("0.05"),
        lot_size=Decimal(65), underlying="NIFTY", expiry=expiry, strike=Decimal(strike),
        right=right,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "canonical", "venue"),
    [
        ("NIFTY:nearest:OTM2:CE", "NIFTY:nearest:OTM2:CE", "NFO"),
        (" nifty:Next_Monthly:itm1:put ", "NIFTY:next-monthly:ITM1:PE", "NFO"),
        ("NIFTY:2026-12-29:ATM:C", "NIFTY:2026-12-29:ATM:CE", "NFO"),
        ("SENSEX:weekly:ATM:PE.BFO", "SENSEX:weekly:ATM:PE", "BFO"),
    ],
)
def test_an_option_symbol_reads_any_spelling_and_writes_one(
    text: str, canonical: str, venue: str
) -> None:
    found = OptionSymbol.parse(text, NFO)
    assert (found.value, str(found), found.venue) == (canonical, canonical, Venue(venue))
    assert OptionSymbol.parse(found.value, found.venue) == found
    assert symbol_target(text, NFO) == found


def test_the_parts_are_typed() -> None:
    found = OptionSymbol.parse("NIFTY:monthly:OTM3:PE", NFO)
    assert found.expiry is ExpiryRule.MONTHLY
    assert found.offset == StrikeOffset.parse("OTM3")
    assert found.right is OptionRight.PUT


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NIFTY:nearest:OTM2", "BAD_OPTION_SYMBOL"),
        (":nearest:OTM2:CE", "BAD_OPTION_SYMBOL"),
        ("NIFTY:nearest:OTM2:XE", "BAD_RIGHT"),
        ("NIFTY:2026-02-30:ATM:CE", "BAD_EXPIRY_RULE"),
        ("NIFTY:nearest:ATM1:CE", "BAD_OFFSET"),
    ],
)
def test_a_malformed_option_symbol_is_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(OptionChainError) as refused:
        OptionSymbol.parse(text, NFO)
    assert refused.value.code == code


def test_instrument_ids_are_not_option_symbols() -> None:
    assert not is_option_symbol("NSE:NIFTY.NSE")
    assert not is_option_symbol("BTC/USDT:USDT.BINANCE")
    assert symbol_target("NIFTY26NOVFUT.NFO", NFO) == InstrumentId("NIFTY26NOVFUT.NFO")
    assert is_option_symbol("NIFTY:nearest:ATM:CE.NFO")


def test_a_rule_matches_every_strike_and_expiry_and_a_date_only_its_expiry() -> None:
    nov = option("NIFTY26NOV26100CE", "26100", OptionRight.CALL, date(2026, 11, 23))
    dec = option("NIFTY26DEC25900CE", "25900", OptionRight.CALL, date(2026, 12, 29))
    put = option("NIFTY26NOV26100PE", "26100", OptionRight.PUT, date(2026, 11, 23))
    by_rule = OptionSymbol.parse("NIFTY:nearest:OTM2:CE", NFO)
    by_date = OptionSymbol.parse("NIFTY:2026-12-29:OTM2:CE", NFO)
    assert [by_rule.matches(i) for i in (nov, dec, put)] == [True, True, False]
    assert [by_date.matches(i) for i in (nov, dec, put)] == [False, True, False]
    assert not OptionSymbol.parse("NIFTY:nearest:OTM2:CE.BFO", NFO).matches(nov)
