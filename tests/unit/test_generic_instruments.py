"""The generic instrument CSV: a header, case-insensitive columns, problem rows reported."""

from __future__ import annotations

import gzip
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.instruments.generic_csv import (
    InstrumentFileError,
    InstrumentImport,
    load_generic_instruments,
)
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.instruments import AssetClass, OptionRight
from algodesk.domain.values import Currency

GOOD = """\
Symbol,VENUE,Asset_Class,currency,Tick_Size,lot_size,freeze_quantity,underlying,expiry,strike,right,base_currency,min_quantity
AAPL,nasdaq,equity,usd,0.01,,,,,,,,
NIFTY26D0126000CE,NFO,OPTION,INR,0.05,65,1800,NIFTY,2026-12-01,26000,ce,,
BTC/USDT:USDT,BINANCE,crypto_perpetual,USDT,0.1,0.001,,,,,,btc,0.001
NIFTY26DECFUT,NFO,FUTURE,INR,0.1,65,1800,NIFTY,2026-12-29,,,,
"""


def write(tmp_path: Path, text: str, name: str = "instruments.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **options: bool) -> InstrumentImport:
    return load_generic_instruments(write(tmp_path, text), **options)


def test_a_good_file_imports_every_kind(tmp_path: Path) -> None:
    imported = load(tmp_path, GOOD)
    assert imported.problems == ()
    assert imported.rows == 4
    by_id = imported.by_id()
    aapl = by_id[InstrumentId("AAPL.NASDAQ")]
    assert aapl.asset_class is AssetClass.EQUITY
    assert aapl.currency == Currency("USD")
    assert aapl.tick_size == Decimal("0.01")
    assert aapl.lot_size == Decimal(1)
    option = by_id[InstrumentId("NIFTY26D0126000CE.NFO")]
    assert option.right is OptionRight.CALL
    assert option.strike == Decimal(26000)
    assert option.expiry == date(2026, 12, 1)
    assert option.lot_size == Decimal(65)
    assert option.freeze_quantity == Decimal(1800)
    assert option.underlying == "NIFTY"
    perp = by_id[InstrumentId("BTC/USDT:USDT.BINANCE")]
    assert perp.asset_class is AssetClass.CRYPTO_PERPETUAL
    assert perp.base_currency == Currency("BTC")
    assert perp.min_quantity == Decimal("0.001")
    assert perp.lot_size == Decimal("0.001")
    fut = by_id[InstrumentId("NIFTY26DECFUT.NFO")]
    assert fut.strike is None
    assert fut.expiry == date(2026, 12, 29)


def test_the_required_columns_alone_are_enough(tmp_path: Path) -> None:
    imported = load(
        tmp_path, "symbol,venue,asset_class,currency,tick_size\nINFY,NSE,EQUITY,INR,0.05\n"
    )
    (infy,) = imported.instruments
    assert infy.id == InstrumentId("INFY.NSE")


def test_a_gzipped_copy_imports_the_same(tmp_path: Path) -> None:
    plain = load(tmp_path, GOOD)
    packed = tmp_path / "instruments.csv.gz"
    packed.write_bytes(gzip.compress(GOOD.encode()))
    assert load_generic_instruments(packed).instruments == plain.instruments
    assert load_generic_instruments(GOOD.encode()).instruments == plain.instruments


def test_bad_rows_are_reported_with_line_and_column(tmp_path: Path) -> None:
    text = """\
symbol,venue,asset_class,currency,tick_size,lot_size,underlying,expiry,strike,right
AAPL,NASDAQ,EQUITY,USD,0.01,,,,,
MSFT,NASDAQ,EQUITY,USD,0.0x,,,,,
NIFTY 50,NSE,INDEX,INR,0.01,,,,,
BOND,NSE,BOND,INR,0.01,,,,,
X26DEC100CE,NFO,OPTION,INR,0.05,65,X,2026-12-29,,CE
X26DEC100PE,NFO,OPTION,INR,0.05,65,X,2026-12-29,100,SIDEWAYS
X26DECFUT,NFO,FUTURE,INR,0.1,65,X,29-12-2026,,
TSLA,NASDAQ,EQUITY,USD,0,,,,,
AAPL,nasdaq,EQUITY,USD,0.01,,,,,
,NASDAQ,EQUITY,USD,0.01,,,,,
GOOG,NASDAQ,EQUITY,US$,0.01,,,,,
NVDA,NASDAQ,EQUITY,USD,0.01,,,,
AMZN,NASDAQ,EQUITY,USD,0.01,-1,,,,
"""
    imported = load(tmp_path, text)
    assert [str(i.id) for i in imported.instruments] == ["AAPL.NASDAQ"]
    found = [(p.line, p.column, p.code) for p in imported.problems]
    assert found == [
        (3, "tick_size", "BAD_VALUE"),
        (4, "symbol", "BAD_SYMBOL"),
        (5, "asset_class", "BAD_VALUE"),
        (6, None, "INVALID_INSTRUMENT"),  # an option without a strike: a cross-field rule
        (7, "right", "BAD_VALUE"),
        (8, "expiry", "BAD_VALUE"),
        (9, "tick_size", "BAD_VALUE"),
        (10, None, "DUPLICATE"),
        (11, "symbol", "MISSING_VALUE"),
        (12, "currency", "BAD_VALUE"),
        (13, None, "FIELD_COUNT"),
        (14, "lot_size", "BAD_VALUE"),
    ]
    messages = {p.line: p.message for p in imported.problems}
    assert "'0.0x'" in messages[3]
    assert "'NIFTY 50'" in messages[4]
    assert "EQUITY" in messages[5]  # lists what was expected
    assert "strike" in messages[6]
    assert "'29-12-2026'" in messages[8]
    assert "line 2" in messages[10]
    assert "expected 10 fields, found 9" in messages[13]
    assert imported.summary() == {
        "BAD_VALUE": 7,
        "BAD_SYMBOL": 1,
        "INVALID_INSTRUMENT": 1,
        "DUPLICATE": 1,
        "MISSING_VALUE": 1,
        "FIELD_COUNT": 1,
    }


def test_strict_mode_raises_on_the_first_problem(tmp_path: Path) -> None:
    text = (
        "symbol,venue,asset_class,currency,tick_size\nA,NSE,EQUITY,INR,0.05\nB,NSE,EQUITY,INR,x\n"
    )
    with pytest.raises(InstrumentFileError) as exc:
        load(tmp_path, text, strict=True)
    assert (exc.value.line, exc.value.column) == (3, "tick_size")


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("symbol,venue,asset_class,currency", "tick_size"),  # a required column is missing
        ("symbol,venue,asset_class,currency,tick_size,lotsize", "lotsize"),  # unknown: a typo
        ("symbol,venue,asset_class,currency,tick_size,Symbol", "symbol"),  # named twice
    ],
)
def test_a_bad_header_refuses_the_file(tmp_path: Path, header: str, named: str) -> None:
    with pytest.raises(InstrumentFileError) as exc:
        load(tmp_path, header + "\n")
    assert exc.value.line == 1
    assert named in str(exc.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstrumentFileError, match="header"):
        load(tmp_path, "")


def test_an_underlying_is_stored_upper_case_as_the_chain_and_the_cli_look_it_up(
    tmp_path: Path,
) -> None:
    imported = load(
        tmp_path,
        "symbol,venue,asset_class,currency,tick_size,underlying,expiry,strike,right\n"
        "NIFTY26DEC26000CE,NFO,OPTION,INR,0.05,nifty,2026-12-29,26000,CE\n",
    )
    assert [i.underlying for i in imported.instruments] == ["NIFTY"]
