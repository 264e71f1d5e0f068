"""Bars from CSV files (the real NVDA series and hand-made edge cases) and the Parquet store."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.feeds.csv_bars import BarFileError, read_bars_csv
from algodesk.adapters.storage.parquet.bars import ParquetBarStore
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
NVDA = InstrumentId("NVDA.NASDAQ")
D1 = Timeframe.parse("1d")


def test_the_nvda_series_reads_exactly_and_round_trips_through_parquet(tmp_path: Path) -> None:
    source = DATA / "nvda-1999-2014.txt"
    bars = read_bars_csv(source, NVDA, D1)
    with source.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(bars) == len(rows) == 4012
    first, last = bars[0], bars[-1]
    assert first.ts_close == datetime(1999, 1, 23, tzinfo=UTC)  # 1999-01-22 ends at midnight
    assert (first.open, first.close, first.volume) == (
        Decimal(rows[0]["Open"]), Decimal(rows[0]["Close"]), Decimal(rows[0]["Volume"]),
    )  # fmt: skip
    assert last.close == Decimal(rows[-1]["Close"])

    store = ParquetBarStore(tmp_path / "bars")
    assert store.write(NVDA, D1, bars) == 4012
    again = store.read(NVDA, D1)
    assert again == bars
    [series] = store.series()
    assert (series.instrument_id, series.timeframe, series.count) == (NVDA, D1, 4012)
    window = store.read(NVDA, D1, start=bars[9].ts_close, end=bars[19].ts_close)
    assert window == bars[10:20]


def test_writes_merge_and_a_corrected_bar_replaces_the_stored_one(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    t = datetime(2026, 11, 20, tzinfo=UTC)
    iid = InstrumentId("BTC/USDT.BINANCE")

    def bar(n: int, c: str) -> Bar:
        px = Decimal(c)
        return Bar(iid, t + timedelta(days=n), px, px, px, px, Decimal("0.5"))

    assert store.write(iid, D1, [bar(1, "100"), bar(2, "101")]) == 2
    assert store.write(iid, D1, [bar(2, "101.5"), bar(3, "102")]) == 1
    assert [b.close for b in store.read(iid, D1)] == [Decimal(100), Decimal("101.5"), Decimal(102)]
    assert store.path(iid, D1).parent.name == "BTC%2FUSDT"
    assert [s.instrument_id for s in store.series()] == [iid]
    with pytest.raises(ValueError, match="more than 12 decimal places"):
        store.write(iid, D1, [bar(4, "0.0000000000001")])
    with pytest.raises(ValueError, match="does not fit"):
        store.write(iid, D1, [bar(4, "12345678901234567890123456789")])
    assert len(store.read(iid, D1)) == 3  # the refused writes changed nothing


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text(text)
    return path


def test_column_names_any_case_unnamed_first_column_and_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ",OPEN,high,Low,close,Adj Close\n2026-11-20 09:15:00,10,12,9,11,10.5\n",
    )
    [bar] = read_bars_csv(path, NVDA, Timeframe.parse("1h"), tz="Asia/Kolkata")
    assert bar.ts_close == datetime(2026, 11, 20, 4, 45, tzinfo=UTC)  # 10:15 IST
    assert bar.volume == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Open,High,Low,Close\n1,2,0.5,1\n", "expected a date column"),
        ("Date,Open,High,Close\n2026-11-20,1,2,1\n", "missing column"),
        ("Date,Open,High,Low,Close\n2026-11-20,1,2,0.5,abc\n", "line 2: expected a decimal"),
        ("Date,Open,High,Low,Close\n20/11/2026,1,2,0.5,1\n", "line 2: expected an ISO date"),
        ("Date,Open,High,Low,Close\n2026-11-20,1,2,1.5,1\n", "line 2: .*expected low <= open"),
        ("Date,Open,High,Low,Close\n2026-11-20,1,2,0.5,1\n2026-11-20,1,2,0.5,1\n", "time order"),
        ("", "empty"),
    ],
)
def test_bad_files_are_refused_with_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BarFileError, match=message):
        read_bars_csv(write(tmp_path, text), NVDA, D1)


def test_a_daily_row_closes_at_the_next_local_midnight_across_a_dst_change(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close\n2026-03-06,1,2,0.5,1\n2026-03-08,1,2,0.5,1\n",
    )
    friday, sunday = read_bars_csv(path, NVDA, D1, tz="America/New_York")
    assert friday.ts_close == datetime(2026, 3, 7, 5, 0, tzinfo=UTC)  # midnight EST
    assert sunday.ts_close == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # midnight EDT: 23 h day


def test_a_stray_file_in_the_bar_store_is_not_a_series(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    bars = read_bars_csv(DATA / "nvda-1999-2014.txt", NVDA, D1)[:3]
    store.write(NVDA, D1, bars)
    stray = tmp_path / "NASDAQ" / "NVDA" / "notes.parquet"
    stray.write_bytes(store.path(NVDA, D1).read_bytes())
    assert [(s.instrument_id, s.count) for s in store.series()] == [(NVDA, 3)]
