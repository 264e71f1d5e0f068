"""Bars for a backtest from CSV or Parquet files.

A file holds one instrument: a date or datetime column (``Date``, ``Datetime``, ``Time``,
``Timestamp`` or the unnamed first column) and ``Open, High, Low, Close`` with an optional
``Volume``, in any case; other columns (``Adj Close``…) are ignored. Prices are read as text into
``Decimal``, never through floats (Parquet float columns are converted through their shortest
``repr``). A row's time is the bar's start; the bar is stamped at its close (start + timeframe).

The timeframe is inferred (date-only rows: ``1d``; otherwise the most common spacing) unless
given. The symbol is the file name up to its first ``-``, ``_`` or ``.`` (``nvda-1999-2014.txt``
is ``NVDA``) unless given as ``SYMBOL=path``.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from algodesk.adapters.feeds.csv_bars import BarFileError, read_bars_csv
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar

__all__ = ["BACKTEST_VENUE", "BarFileError", "Series", "load_series", "parse_data_spec"]

BACKTEST_VENUE = "BACKTEST"
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/&^-]{0,30}$")


@dataclass(frozen=True, slots=True)
class Series:
    """One instrument's bars, oldest first, with each bar's start time and the price step
    the data is quoted in (its finest decimal)."""

    instrument_id: InstrumentId
    timeframe: Timeframe
    bars: list[Bar]
    starts: list[datetime]
    tick_size: Decimal
    source: Path

    @property
    def symbol(self) -> str:
        return self.instrument_id.symbol


def parse_data_spec(spec: str) -> tuple[str | None, Path]:
    """``path`` or ``SYMBOL=path``."""
    symbol, sep, rest = spec.partition("=")
    if sep and _SYMBOL.match(symbol) and not Path(spec).exists():
        return symbol.upper(), Path(rest)
    return None, Path(spec)


def _symbol_from(path: Path) -> str:
    stem = re.split(r"[-_.]", path.name, maxsplit=1)[0]
    if not _SYMBOL.match(stem):
        raise BarFileError(
            f"{path}: cannot take a symbol from the file name; give one as SYMBOL={path}"
        )
    return stem.upper()


def _first_times(path: Path, rows: int = 50) -> list[str]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()[1 : rows + 1]
    return [line.split(",", 1)[0].strip().strip('"') for line in lines if line.strip()]


def _infer_timeframe(stamps: list[str], path: Path) -> Timeframe:
    if not stamps:
        raise BarFileError(f"{path}: no bars")
    if all(len(s) == 10 for s in stamps):
        return Timeframe.parse("1d")
    try:
        times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
    except ValueError as exc:
        raise BarFileError(f"{path}: expected ISO dates or datetimes: {exc}") from None
    gaps = Counter(b - a for a, b in itertools.pairwise(times) if b > a)
    if not gaps:
        raise BarFileError(f"{path}: cannot infer the timeframe; give --timeframe")
    step: timedelta = gaps.most_common(1)[0][0]
    return Timeframe(int(step.total_seconds()))


def _parquet_as_csv(path: Path, out: Path) -> None:
    import pandas as pd  # noqa: PLC0415  (pandas is slow to import; only Parquet needs it)

    frame = pd.read_parquet(path)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    stamp = next(
        (
            c
            for c in frame.columns
            if c.strip().lower() in ("date", "datetime", "time", "timestamp", "index", "")
        ),
        frame.columns[0],
    )
    times = pd.to_datetime(frame[stamp], utc=True)
    daily = bool((times == times.dt.normalize()).all())
    frame[stamp] = times.dt.strftime("%Y-%m-%d") if daily else times.map(lambda t: t.isoformat())
    frame = frame.rename(columns={stamp: "Date"})
    frame.to_csv(out, index=False, float_format=None)


def load_series(
    spec: str | Path,
    *,
    timeframe: str | None = None,
    tz: str = "UTC",
    venue: str = BACKTEST_VENUE,
) -> Series:
    """One file's bars. ``spec`` is ``path`` or ``SYMBOL=path``; ``.parquet`` / ``.pq`` files
    are read as Parquet, anything else as CSV.

    Raises:
        BarFileError: the file is missing, unreadable, or its rows are not bars in time order;
            the message names the file, the line and the column.
    """
    symbol, path = parse_data_spec(str(spec))
    if not path.is_file():
        raise BarFileError(f"{path}: no such file")
    symbol = symbol or _symbol_from(path)
    instrument_id = InstrumentId.of(symbol.replace("/", ""), venue)
    if path.suffix.lower() in (".parquet", ".pq"):
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "bars.csv"
            _parquet_as_csv(path, csv_path)
            return _load_csv(csv_path, instrument_id, timeframe, tz, source=path)
    return _load_csv(path, instrument_id, timeframe, tz, source=path)


def _load_csv(
    path: Path, instrument_id: InstrumentId, timeframe: str | None, tz: str, source: Path
) -> Series:
    tf = Timeframe.parse(timeframe) if timeframe else _infer_timeframe(_first_times(path), source)
    try:
        bars = read_bars_csv(path, instrument_id, tf, tz)
    except BarFileError as exc:
        raise BarFileError(str(exc).replace(str(path), str(source))) from None
    if not bars:
        raise BarFileError(f"{source}: no bars")
    exponent = min(
        int(v.as_tuple().exponent) for b in bars for v in (b.open, b.high, b.low, b.close)
    )
    tick = Decimal(1).scaleb(min(exponent, 0))
    starts = [b.ts_close - tf.delta for b in bars]
    return Series(instrument_id, tf, bars, starts, tick, source)
