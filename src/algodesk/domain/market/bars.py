"""Bars from ticks, and bars from shorter bars, without look-ahead.

Buckets are half-open intervals ``[start, end)`` and a bar is stamped at ``end``. Intraday
buckets are aligned on UTC multiples of the timeframe shifted by ``day_offset``; daily buckets
run from local midnight to local midnight, where local = UTC + ``day_offset`` (IST is
``+05:30``; a US exchange works with ``-05:00`` all year because its sessions sit far from
midnight either side of a DST change). Weekly buckets start on Monday, local time.

A bar exists only once its bucket is known to be complete, so nothing downstream sees a value
from its future: the aggregator emits a bar when a tick of a later bucket arrives or when the
clock passes the bucket's end; :func:`resample` drops a trailing bucket that is not complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.market.timeframes import Timeframe
from algodesk.domain.matching.observations import Bar, Quote, TradeTick
from algodesk.domain.values import exact_arithmetic

__all__ = ["BarAggregator", "bucket_end", "bucket_start", "resample"]

_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so weekly buckets start on Mondays
_WEEK = 7 * 86400


def bucket_start(
    ts: datetime, timeframe: Timeframe, day_offset: timedelta = timedelta(0)
) -> datetime:
    """The start of the bucket holding instant ``ts``."""
    local = ts + day_offset
    seconds = (local - _EPOCH) // timedelta(seconds=1)
    size = timeframe.seconds
    if size % 86400 == 0 and size % _WEEK != 0 and size != 86400:
        raise ValueError(f"{timeframe}: use 1d or whole weeks for daily-or-longer bars")
    start = seconds - seconds % size
    return _EPOCH + timedelta(seconds=start) - day_offset


def bucket_end(
    ts: datetime, timeframe: Timeframe, day_offset: timedelta = timedelta(0)
) -> datetime:
    """The end (the bar's stamp) of the bucket holding instant ``ts``."""
    return bucket_start(ts, timeframe, day_offset) + timeframe.delta


@dataclass
class _Building:
    end: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def add(self, price: Decimal, qty: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty


class BarAggregator:
    """Builds bars of one timeframe from trades (and quotes, which carry no volume) per
    instrument. Feed it validated ticks in time order; a tick for a bucket that was already
    emitted is counted in :attr:`late` and ignored."""

    def __init__(self, timeframe: Timeframe, day_offset: timedelta = timedelta(0)) -> None:
        self.timeframe, self.day_offset = timeframe, day_offset
        self._open: dict[InstrumentId, _Building] = {}
        self._emitted: dict[InstrumentId, datetime] = {}
        self.late = 0

    @exact_arithmetic
    def add(self, tick: TradeTick | Quote) -> list[Bar]:
        """Add a tick; returns the bar it completed, if it opened a later bucket."""
        iid = tick.instrument_id
        price, qty = (
            (tick.price, tick.quantity) if isinstance(tick, TradeTick) else (tick.last, Decimal(0))
        )
        end = bucket_end(tick.ts, self.timeframe, self.day_offset)
        done = self._emitted.get(iid)
        if done is not None and end <= done:
            self.late += 1
            return []
        building = self._open.get(iid)
        out: list[Bar] = []
        if building is not None and building.end < end:
            out.append(self._emit(iid, building))
            building = None
        if building is None:
            self._open[iid] = _Building(end, price, price, price, price, qty)
        elif end < building.end:
            self.late += 1
        else:
            building.add(price, qty)
        return out

    def close_due(self, now: datetime) -> list[Bar]:
        """Bars whose bucket has ended by ``now`` (a bar closes even if no later tick comes)."""
        due = [iid for iid, b in self._open.items() if b.end <= now]
        return [self._emit(iid, self._open[iid]) for iid in due]

    def _emit(self, iid: InstrumentId, b: _Building) -> Bar:
        del self._open[iid]
        self._emitted[iid] = b.end
        return Bar(iid, b.end, b.open, b.high, b.low, b.close, b.volume)


@exact_arithmetic
def _merge(iid: InstrumentId, end: datetime, bars: Sequence[Bar]) -> Bar:
    return Bar(
        iid,
        end,
        bars[0].open,
        max(b.high for b in bars),
        min(b.low for b in bars),
        bars[-1].close,
        sum((b.volume for b in bars), Decimal(0)),
    )


def resample(
    bars: Iterable[Bar],
    source: Timeframe,
    target: Timeframe,
    day_offset: timedelta = timedelta(0),
    complete_until: datetime | None = None,
) -> list[Bar]:
    """Bars of ``source`` timeframe (one instrument, oldest first) merged into ``target`` bars.

    A target bucket is complete when its end is at or before ``complete_until`` (default: the
    close of the last source bar) or when a source bar of a later bucket exists. An incomplete
    trailing bucket is dropped: on the day it happens nobody can know that bucket's close yet.
    """
    if not source.divides(target):
        raise ValueError(f"cannot resample {source} bars into {target}: {target} is not a multiple")
    groups: list[tuple[datetime, list[Bar]]] = []
    last_close: datetime | None = None
    iid: InstrumentId | None = None
    for bar in bars:
        if iid is None:
            iid = bar.instrument_id
        elif bar.instrument_id != iid:
            raise ValueError(
                f"resample: one instrument at a time, got {iid} and {bar.instrument_id}"
            )
        if last_close is not None and bar.ts_close <= last_close:
            raise ValueError(
                f"resample: bars must be in time order, {bar.ts_close.isoformat()} after "
                f"{last_close.isoformat()}"
            )
        last_close = bar.ts_close
        end = bucket_end(bar.ts_close - source.delta, target, day_offset)
        if groups and groups[-1][0] == end:
            groups[-1][1].append(bar)
        else:
            groups.append((end, [bar]))
    if not groups or iid is None or last_close is None:
        return []
    until = complete_until if complete_until is not None else last_close
    if groups[-1][0] > until:
        groups.pop()
    return [_merge(iid, end, members) for end, members in groups]
