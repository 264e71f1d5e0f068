"""Bars from a CSV file: a date or datetime column (named ``Date``, ``Datetime``, ``Time`` or
``Timestamp``, or the unnamed first column) and ``Open, High, Low, Close`` with an optional
``Volume``, in any case; other columns (``Adj Close``…) are ignored.

Numbers are read as text into ``Decimal``, never through floats. A row's time is the bar's
*start* (as Yahoo, Kite and most vendors label candles); the bar is stamped at its close =
start + timeframe. A date-only row is the day starting at local midnight. Times without a zone
are read in ``tz`` (default UTC). Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar

__all__ = ["BarFileError", "read_bars_csv"]

_TIME_NAMES = ("date", "datetime", "time", "timestamp", "")
_PRICES = ("open", "high", "low", "close")
_DAY = Timeframe.parse("1d")


class BarFileError(ValueError):
    """A bar file that cannot be read as it is; the message says where and why."""


def _bounds(text: str, tz: ZoneInfo, timeframe: Timeframe) -> tuple[datetime, datetime]:
    """The bar's start and close, UTC. A date-only daily row closes at the next local midnight
    (23 or 25 hours later on a DST change), not 24 hours later."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(0), tzinfo=tz)
            if timeframe == _DAY:
                close = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
                return start.astimezone(UTC), close.astimezone(UTC)
        else:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
            start = stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)
    except ValueError:
        raise ValueError(f"expected an ISO date or datetime, was {text!r}") from None
    start = start.astimezone(UTC)
    return start, start + timeframe.delta


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, was {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"expected a finite number, was {text!r}")
    return value


def _columns(header: list[str], where: str) -> tuple[int, dict[str, int]]:
    names = [h.strip().lower() for h in header]
    stamp = next((names.index(n) for n in _TIME_NAMES if n in names), None)
    if stamp is None:
        raise BarFileError(
            f"{where}: expected a date column (Date, Datetime, Time, Timestamp or an unnamed "
            f"first column), found {header}"
        )
    wanted = {n: names.index(n) for n in (*_PRICES, "volume") if n in names}
    missing = [n for n in _PRICES if n not in wanted]
    if missing:
        raise BarFileError(f"{where}: missing column(s) {', '.join(missing)} in {header}")
    return stamp, wanted


def iter_bars_csv(
    path: Path, instrument_id: InstrumentId, timeframe: Timeframe, tz: str = "UTC"
) -> Iterator[Bar]:
    zone = ZoneInfo(tz)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise BarFileError(f"{path}: the file is empty")
        stamp_col, cols = _columns(header, str(path))
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                _, close = _bounds(row[stamp_col], zone, timeframe)
                values = {n: _number(row[i]) for n, i in cols.items()}
                yield Bar(
                    instrument_id,
                    close,
                    values["open"],
                    values["high"],
                    values["low"],
                    values["close"],
                    values.get("volume", Decimal(0)),
                )
            except (ValueError, IndexError) as exc:
                raise BarFileError(f"{path}, line {line}: {exc}") from None


def read_bars_csv(
    path: Path, instrument_id: InstrumentId, timeframe: Timeframe, tz: str = "UTC"
) -> list[Bar]:
    """Every bar of the file, oldest first; refuses duplicate or unordered times."""
    bars = list(iter_bars_csv(path, instrument_id, timeframe, tz))
    for before, after in itertools.pairwise(bars):
        if after.ts_close <= before.ts_close:
            raise BarFileError(
                f"{path}: bars must be in time order without repeats; "
                f"the bar closing {after.ts_close.isoformat()} follows the one closing "
                f"{before.ts_close.isoformat()}"
            )
    return bars
