"""Bars as Parquet: ``<root>/<VENUE>/<symbol>/<timeframe>.parquet``, one row per bar.

Prices and volume are stored as ``decimal128(38, 12)``: exact, readable by pandas, polars and
DuckDB. A value with more than 12 decimal places is refused rather than rounded. Writes merge
with what is stored (a bar at a stored close replaces it: a corrected re-import wins) and land
atomically (a temporary file renamed over the old one), so a crash never leaves half a file.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar
from algodesk.ports.market_data import BarSeries

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetBarStore"]

_log = logging.getLogger(__name__)

_SCALE = 12
_PRECISION = 38
_WIDE = Context(prec=_PRECISION + 2)
_FIELDS = ("open", "high", "low", "close", "volume")
_QUANTUM = Decimal(1).scaleb(-_SCALE)


@functools.cache
def _arrow() -> tuple[ModuleType, ModuleType, pa.Schema]:
    """pyarrow, its Parquet module and the bars' schema, imported on first use: with numpy,
    pyarrow takes about 40 MB, which a desk that never reads a bar file need not carry."""
    import pyarrow as pa  # noqa: PLC0415 - see above
    import pyarrow.parquet as pq  # noqa: PLC0415

    number = pa.decimal128(_PRECISION, _SCALE)
    schema = pa.schema(
        [pa.field("ts_close", pa.timestamp("us", tz="UTC"), nullable=False)]
        + [pa.field(name, number, nullable=False) for name in _FIELDS]
    )
    return pa, pq, schema


def _fit(iid: InstrumentId, name: str, value: Decimal) -> Decimal:
    try:
        scaled = value.quantize(_QUANTUM, context=_WIDE)
    except InvalidOperation:
        scaled = None
    if scaled is None or scaled.adjusted() >= _PRECISION - _SCALE:
        raise ValueError(
            f"{iid}: {name} {value} does not fit the bar store's "
            f"{_PRECISION - _SCALE} integer digits"
        )
    if scaled != value:
        raise ValueError(
            f"{iid}: {name} {value} has more than {_SCALE} decimal places; "
            "the bar store keeps prices exactly and will not round"
        )
    return scaled


def _plain(value: Decimal | None) -> Decimal:
    """The stored value without the padding zeros of the fixed scale (12 decimals), and
    without an exponent: 2073600, not 2.0736E+6."""
    if value is None:
        raise ValueError("a stored bar has a missing value")
    value = value.normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


class ParquetBarStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, instrument_id: InstrumentId, timeframe: Timeframe) -> Path:
        # Symbols may hold '/' (BTC/USDT): quote them into one safe file-name component.
        symbol = quote(instrument_id.symbol, safe="")
        return self.root / instrument_id.venue.value / symbol / f"{timeframe}.parquet"

    def write(self, instrument_id: InstrumentId, timeframe: Timeframe, bars: Iterable[Bar]) -> int:
        stored = {b.ts_close: b for b in self.read(instrument_id, timeframe)}
        before = set(stored)
        for bar in bars:
            if bar.instrument_id != instrument_id:
                raise ValueError(f"bar of {bar.instrument_id} written to {instrument_id}'s series")
            stored[bar.ts_close] = bar
        merged = [stored[ts] for ts in sorted(stored)]
        columns: dict[str, list[object]] = {"ts_close": [b.ts_close for b in merged]}
        for name in _FIELDS:
            columns[name] = [_fit(instrument_id, name, getattr(b, name)) for b in merged]
        pa, pq, schema = _arrow()
        table = pa.table(columns, schema=schema)
        target = self.path(instrument_id, timeframe)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(set(stored) - before)

    def read(
        self,
        instrument_id: InstrumentId,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        target = self.path(instrument_id, timeframe)
        if not target.exists():
            return []
        _, pq, schema = _arrow()
        table = pq.read_table(target, schema=schema)
        data = table.to_pydict()
        out = []
        for n, ts in enumerate(data["ts_close"]):
            stamp = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
            if (start is not None and stamp <= start) or (end is not None and stamp > end):
                continue
            o, h, lo, c, v = (_plain(data[name][n]) for name in _FIELDS)
            out.append(Bar(instrument_id, stamp.astimezone(UTC), o, h, lo, c, v))
        return out

    def series(self) -> list[BarSeries]:
        found: list[BarSeries] = []
        for file in sorted(self.root.glob("*/*/*.parquet")):
            try:
                iid = InstrumentId.of(unquote(file.parent.name), file.parent.parent.name)
                timeframe = Timeframe.parse(file.stem)
            except ValueError:
                _log.warning("not a bar series, skipped: %s", file)
                continue
            _, pq, _ = _arrow()  # (not imported for a store with no files)
            stamps = pq.read_table(file, columns=["ts_close"]).column("ts_close").to_pylist()
            if stamps and stamps[0] is not None and stamps[-1] is not None:
                found.append(BarSeries(iid, timeframe, len(stamps), stamps[0], stamps[-1]))
        return found
