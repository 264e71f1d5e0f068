"""The Kite Connect instrument dump, plain and gzipped, with its problem rows reported."""

from __future__ import annotations

import gzip
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.instruments.generic_csv import InstrumentFileError
from algodesk.adapters.instruments.kite_csv import (
    KITE_COLUMNS,
    KiteImport,
    kite_symbol,
    load_kite_instruments,
    nse_reference,
)
from algodesk.domain.identifiers import InstrumentId, Venue
from algodesk.domain.instruments import AssetClass, OptionRight
from algodesk.domain.values import Currency

KITE_FILE = Path(__file__).parents[1] / "data" / "kite_instruments.csv"
HEADER = ",".join(KITE_COLUMNS)
INR = Currency("INR")


def load_text(tmp_path: Path, *lines: str, **options: object) -> KiteImport:
    path = tmp_path / "instruments.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return load_kite_instruments(path, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def dump() -> KiteImport:
    return load_kite_instruments(KITE_FILE)


def test_the_fixture_imports_without_problems(dump: KiteImport) -> None:
    assert dump.rows == 134
    assert len(dump.instruments) == 134
    assert dump.problems == ()
    assert dump.skipped == 0
    assert dump.summary() == {}
    kinds = {a: sum(1 for i in dump.instruments if i.asset_class is a) for a in AssetClass}
    assert kinds[AssetClass.INDEX] == 2
    assert kinds[AssetClass.EQUITY] == 1
    assert kinds[AssetClass.FUTURE] == 5
    assert kinds[AssetClass.OPTION] == 126


def test_index_rows_get_a_legal_symbol_and_watch_only_sizes(dump: KiteImport) -> None:
    nifty = dump.by_id()[InstrumentId("NIFTY_50.NSE")]
    assert nifty.asset_class is AssetClass.INDEX
    assert not nifty.tradable
    assert nifty.venue == Venue("NSE")
    assert nifty.tick_size == Decimal("0.01")  # the dump says 0
    assert nifty.lot_size == Decimal(1)  # the dump says 0
    assert nifty.underlying is None
    assert nifty.freeze_quantity is None
    assert InstrumentId("NIFTY_BANK.NSE") in dump.by_id()
    assert kite_symbol("NIFTY FIN SERVICE") == "NIFTY_FIN_SERVICE"
    assert dump.tokens[InstrumentId("NIFTY_50.NSE")] == 256265


def test_an_equity_row(dump: KiteImport) -> None:
    reliance = dump.by_id()[InstrumentId("RELIANCE.NSE")]
    assert reliance.asset_class is AssetClass.EQUITY
    assert reliance.currency == INR
    assert reliance.tick_size == Decimal("0.1")
    assert reliance.lot_size == Decimal(1)
    assert reliance.underlying is None  # `name` is the company name, not an underlying
    assert reliance.expiry is None
    assert reliance.strike is None
    assert dump.tokens[reliance.id] == 738561


def test_option_rows_carry_their_contract_terms(dump: KiteImport) -> None:
    ce = dump.by_id()[InstrumentId("NIFTY26D0126000CE.NFO")]
    assert ce.asset_class is AssetClass.OPTION
    assert ce.underlying == "NIFTY"
    assert ce.expiry == date(2026, 12, 1)
    assert ce.strike == Decimal(26000)
    assert ce.right is OptionRight.CALL
    assert ce.lot_size == Decimal(65)
    assert ce.tick_size == Decimal("0.05")
    assert ce.currency == INR
    assert ce.freeze_quantity == Decimal(1800)
    pe = dump.by_id()[InstrumentId("NIFTY26NOV25900PE.NFO")]
    assert pe.right is OptionRight.PUT
    assert pe.expiry == date(2026, 11, 23)  # moved from the holiday on Tuesday 24 Nov
    bank = dump.by_id()[InstrumentId("BANKNIFTY26DEC59300PE.NFO")]
    assert bank.lot_size == Decimal(30)
    assert bank.freeze_quantity == Decimal(600)


def test_futures_have_no_strike_and_get_the_index_freeze_quantity(dump: KiteImport) -> None:
    fut = dump.by_id()[InstrumentId("NIFTY26DECFUT.NFO")]
    assert fut.asset_class is AssetClass.FUTURE
    assert fut.strike is None
    assert fut.right is None
    assert fut.underlying == "NIFTY"
    assert fut.expiry == date(2026, 12, 29)
    assert fut.freeze_quantity == Decimal(1800)


def test_each_derivative_underlying_knows_its_spot_index(dump: KiteImport) -> None:
    assert set(dump.spots) == {"NIFTY", "BANKNIFTY"}
    spot = dump.spot_of("nifty")
    assert spot is not None
    assert spot.id == InstrumentId("NIFTY_50.NSE")
    bank = dump.spot_of("BANKNIFTY")
    assert bank is not None
    assert bank.id == InstrumentId("NIFTY_BANK.NSE")
    assert dump.spot_of("FINNIFTY") is None


def test_a_stock_derivative_finds_its_equity_on_the_cash_exchange(tmp_path: Path) -> None:
    imported = load_text(
        tmp_path,
        "738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.1,1,EQ,NSE,NSE",
        "12540674,48987,RELIANCE26DECFUT,RELIANCE,0,2026-12-29,0,0.1,500,FUT,NFO-FUT,NFO",
    )
    spot = imported.spot_of("RELIANCE")
    assert spot is not None
    assert spot.id == InstrumentId("RELIANCE.NSE")
    fut = imported.by_id()[InstrumentId("RELIANCE26DECFUT.NFO")]
    assert fut.freeze_quantity is None  # stock freezes are not in the table
    overridden = load_text(
        tmp_path,
        "12540674,48987,RELIANCE26DECFUT,RELIANCE,0,2026-12-29,0,0.1,500,FUT,NFO-FUT,NFO",
        freeze_quantities={"reliance": "10000"},
    )
    assert overridden.instruments[0].freeze_quantity == Decimal(10000)


def test_the_gzipped_dump_imports_the_same(tmp_path: Path, dump: KiteImport) -> None:
    packed = tmp_path / "instruments.csv.gz"
    packed.write_bytes(gzip.compress(KITE_FILE.read_bytes()))
    from_gzip = load_kite_instruments(packed)
    assert from_gzip.instruments == dump.instruments
    assert from_gzip.tokens == dump.tokens
    # As the bytes an HTTP client received, and under a name that does not say gzip.
    assert load_kite_instruments(packed.read_bytes()).instruments == dump.instruments
    disguised = tmp_path / "instruments.csv"
    disguised.write_bytes(packed.read_bytes())
    assert load_kite_instruments(disguised).instruments == dump.instruments


def test_freeze_quantities_can_be_overridden_or_removed() -> None:
    imported = load_kite_instruments(
        KITE_FILE, freeze_quantities={"NIFTY": 1756, "BANKNIFTY": None}
    )
    by_id = imported.by_id()
    assert by_id[InstrumentId("NIFTY26D0126000CE.NFO")].freeze_quantity == Decimal(1756)
    assert by_id[InstrumentId("BANKNIFTY26DEC59000CE.NFO")].freeze_quantity is None
    with pytest.raises(ValueError, match="NIFTY"):
        load_kite_instruments(KITE_FILE, freeze_quantities={"NIFTY": 0})


def test_the_reference_table_is_dated_and_sourced() -> None:
    table = nse_reference()
    assert table.freezes["NIFTY"].quantity == Decimal(1800)
    assert table.freezes["NIFTY"].effective == date(2025, 9, 1)
    assert table.freezes["BANKNIFTY"].quantity == Decimal(600)
    assert table.freezes["FINNIFTY"].quantity == Decimal(1800)
    assert table.freezes["MIDCPNIFTY"].quantity == Decimal(2800)
    assert table.freezes["NIFTYNXT50"].quantity == Decimal(600)
    assert all(f.source for f in table.freezes.values())
    assert table.spots["SENSEX"].exchange == Venue("BSE")
    assert table.spots["SENSEX"].derivatives == Venue("BFO")
    assert table.spots["MIDCPNIFTY"].instrument_id == InstrumentId("NIFTY_MID_SELECT.NSE")
    assert table.spots["NIFTYNXT50"].tradingsymbol == "NIFTY NEXT 50"


def test_the_exchange_filter_leaves_rows_out_without_calling_them_problems() -> None:
    imported = load_kite_instruments(KITE_FILE, exchanges=["nfo"])
    assert imported.rows == 134
    assert imported.filtered == 3
    assert len(imported.instruments) == 131
    assert imported.problems == ()
    assert imported.spots == {}  # the index rows were left out


def test_the_documentation_example_row_has_no_name_so_it_is_reported(tmp_path: Path) -> None:
    """Kite's doc row leaves `name` empty; an option without an underlying is not guessed from
    its symbol."""
    imported = load_text(
        tmp_path,
        "408065,1594,INFY,INFOSYS,0,,,0.05,1,EQ,NSE,NSE",
        "5720578,22346,NIFTY159500CE,,23.0,2015-12-31,9500,0.05,75,CE,NFO-OPT,NFO",
    )
    assert [i.symbol for i in imported.instruments] == ["INFY"]
    (problem,) = imported.problems
    assert (problem.line, problem.column, problem.code) == (3, "name", "MISSING_VALUE")
    assert str(problem).startswith("line 3, column 'name': MISSING_VALUE")


def test_bad_rows_are_reported_with_line_and_column_and_the_rest_imports(tmp_path: Path) -> None:
    imported = load_text(
        tmp_path,
        "10550530,41213,NIFTY26NOV25800CE,NIFTY,0,2026-11-23,25800,0.05,65,CE,NFO-OPT,NFO",  # 2
        "10550786,41214,NIFTY26NOV25800PE,NIFTY,0,2026-11-23,abc,0.05,65,PE,NFO-OPT,NFO",  # 3
        "10551042,41215,NIFTY26NOV25850CE,NIFTY,0,2026-13-01,25850,0.05,65,CE,NFO-OPT,NFO",  # 4
        "10551298,41216,NIFTY26NOV25850PE,NIFTY,0,2026-11-23,25850,0.05,65,PE,NFO-OPT",  # 5
        "645639,1,SILVER26DECFUT,SILVER,0,2026-12-04,0,1,1,FUT,MCX-FUT,MCX",  # 6
        "10551554,41217,NIFTY26NOV25900XX,NIFTY,0,2026-11-23,25900,0.05,65,XX,NFO-OPT,NFO",  # 7
        "10551810,41218,NIFTY26NOV25900CE,NIFTY,0,2026-11-23,0,0.05,65,CE,NFO-OPT,NFO",  # 8
        "10552066,41219,NIFTY26NOV25950CE,NIFTY,0,2026-11-23,25950,0,65,CE,NFO-OPT,NFO",  # 9
        "10550530,41213,NIFTY26NOV25800CE,NIFTY,0,2026-11-23,25800,0.05,65,CE,NFO-OPT,NFO",  # 10
        "x1,41220,NIFTY26NOV26000CE,NIFTY,0,2026-11-23,26000,0.05,65,CE,NFO-OPT,NFO",  # 11
        "",  # a blank line is not a row
        "10552322,41221,NIFTY26NOVFUT,NIFTY,0,,0,0.1,65,FUT,NFO-FUT,NFO",  # 13
        "10552578,41222,NIFTY26NOV26050PE,NIFTY,0,2026-11-23,26050.0,0.05,65,PE,NFO-OPT,NFO",  # 14
    )
    assert [str(i.id) for i in imported.instruments] == [
        "NIFTY26NOV25800CE.NFO",
        "NIFTY26NOV26050PE.NFO",
    ]
    assert imported.instruments[1].strike == Decimal(26050)
    found = [(p.line, p.column, p.code) for p in imported.problems]
    assert found == [
        (3, "strike", "BAD_VALUE"),
        (4, "expiry", "BAD_VALUE"),
        (5, None, "FIELD_COUNT"),
        (6, "exchange", "UNSUPPORTED_EXCHANGE"),
        (7, "instrument_type", "UNKNOWN_TYPE"),
        (8, "strike", "BAD_VALUE"),
        (9, "tick_size", "BAD_VALUE"),
        (10, None, "DUPLICATE"),
        (11, "instrument_token", "BAD_VALUE"),
        (13, "expiry", "MISSING_VALUE"),
    ]
    assert imported.rows == 12
    assert imported.skipped == 10
    assert imported.summary()["BAD_VALUE"] == 5
    messages = {p.line: p.message for p in imported.problems}
    assert "'abc'" in messages[3]
    assert "'2026-13-01'" in messages[4]
    assert "expected 12 fields, found 11" in messages[5]
    assert "MCX" in messages[6]
    assert "line 2" in messages[10]


def test_strict_mode_raises_on_the_first_problem(tmp_path: Path) -> None:
    with pytest.raises(InstrumentFileError) as exc:
        load_text(
            tmp_path,
            "10550530,41213,NIFTY26NOV25800CE,NIFTY,0,2026-11-23,25800,0.05,65,CE,NFO-OPT,NFO",
            "10550786,41214,NIFTY26NOV25800PE,NIFTY,0,2026-11-23,abc,0.05,65,PE,NFO-OPT,NFO",
            strict=True,
        )
    assert (exc.value.line, exc.value.column) == (3, "strike")
    assert str(exc.value).startswith("line 3, column 'strike': BAD_VALUE")


def test_a_file_without_the_kite_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("tradingsymbol,exchange\nINFY,NSE\n", encoding="utf-8")
    with pytest.raises(InstrumentFileError) as exc:
        load_kite_instruments(path)
    assert exc.value.line == 1
    assert "instrument_token" in str(exc.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InstrumentFileError, match="header"):
        load_kite_instruments(empty)


def test_a_broken_gzip_or_non_utf8_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(KITE_FILE.read_bytes())[:200])
    with pytest.raises(InstrumentFileError, match="gzip"):
        load_kite_instruments(broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "\n1,1,CAF\xc9,X,0,,0,0.05,1,EQ,NSE,NSE\n").encode("latin-1"))
    with pytest.raises(InstrumentFileError) as exc:
        load_kite_instruments(latin)
    assert exc.value.line == 2
