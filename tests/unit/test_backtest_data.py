"""Bar files for backtests: CSV and Parquet give the same bars; symbols, timeframes, errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from algodesk.backtest.data import BarFileError, load_series

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NVDA = DATA / "nvda-1999-2014.txt"


def test_parquet_with_a_date_index_reads_as_the_csv_does(tmp_path: Path) -> None:
    frame = pd.read_csv(NVDA, parse_dates=["Date"]).set_index("Date")
    path = tmp_path / "nvda.parquet"
    frame.to_parquet(path)
    from_csv, from_parquet = load_series(NVDA), load_series(path)
    assert from_parquet.instrument_id == from_csv.instrument_id
    assert from_parquet.timeframe == from_csv.timeframe
    assert from_parquet.bars == from_csv.bars  # floats come back as their shortest decimals


def test_intraday_times_infer_the_timeframe_and_a_symbol_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "whatever.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        "2024-03-01T09:15:00+05:30,100,101,99,100.5\n"
        "2024-03-01T09:20:00+05:30,100.5,102,100,101\n"
        "2024-03-01T09:25:00+05:30,101,101.5,100.25,101.25\n"
    )
    series = load_series(f"NIFTY={path}")
    assert str(series.instrument_id) == "NIFTY.BACKTEST"
    assert str(series.timeframe) == "5m"
    assert series.tick_size == Decimal("0.01")
    assert series.starts[0].isoformat() == "2024-03-01T03:45:00+00:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Date,Open,High,Low\n2024-01-01,1,2,0\n", r"missing column\(s\) close"),
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,0,1\n2024-01-01,1,2,0,1\n", "time order"),
        ("Date,Open,High,Low,Close\n2024-01-01,1,2,0,x\n", "line 2"),
        ("Date,Open,High,Low,Close\n", "no bars"),
    ],
)
def test_bad_files_are_refused_with_where_and_why(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(BarFileError, match=message):
        load_series(path)
