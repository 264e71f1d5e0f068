"""An account's performance from its ledger: the equity curve, today's P&L, drawdown, win rate
and exposure, per currency.

Definitions (the dashboard shows these; the README repeats them):

* **equity** at an entry: cash plus every open position at its last fill price; the final
  point ("now") values positions at the current marks where there are marks.
* **capital flows** (deposits and withdrawals) are not P&L: today's P&L and the drawdown
  subtract them.
* **today's P&L**: (equity - capital) now, minus the same at ``day_start``, where the positions
  held then are valued at ``day_marks`` (each instrument's price at the day's start) and, for
  an instrument without one, at its last fill price (``day_basis`` says which).
* **drawdown**: how far equity is below its peak, the peak moved by every capital flow, as a
  fraction of the peak.
* **win rate**: closing fills with a positive realized P&L (gross of fees) over all closing
  fills (fills that realized any P&L).
* **exposure**: the sum of the absolute market values of the open positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.ledger.entries import PNL_REALIZED, EntryKind, LedgerEntry
from algodesk.domain.portfolio import BookSummary

__all__ = ["CurrencyPerformance", "performance"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class CurrencyPerformance:
    currency: str
    curve: list[tuple[datetime, Decimal]] = field(default_factory=list)
    equity: Decimal = _ZERO
    peak: Decimal = _ZERO
    max_drawdown: Decimal = _ZERO
    today_pnl: Decimal = _ZERO
    realized: Decimal = _ZERO
    unrealized: Decimal = _ZERO
    exposure: Decimal = _ZERO
    wins: int = 0
    closes: int = 0
    #: Open positions valued at their last fill price for want of a mark.
    unmarked: list[str] = field(default_factory=list)
    #: "marks" when every position held at the day's start had a day mark, else "fill prices".
    day_basis: str = "marks"

    @property
    def drawdown(self) -> Decimal:
        return (self.peak - self.equity) / self.peak if self.peak > 0 else _ZERO

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(self.wins) / Decimal(self.closes) if self.closes else None


@dataclass(slots=True)
class _Track:
    out: CurrencyPerformance
    capital: Decimal = _ZERO
    #: equity - capital just before ``day_start``; None while no entry came before it.
    day_base: Decimal | None = None


def _equity(book: BookSummary, marks: Mapping[InstrumentId, Decimal]) -> dict[str, Decimal]:
    prices = {**book.last_prices(), **marks}
    return book.equity(prices)


def _downsample(
    points: list[tuple[datetime, Decimal]], limit: int
) -> list[tuple[datetime, Decimal]]:
    if len(points) <= limit:
        return points
    step = -(-len(points) // limit)
    kept = points[::step]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def _day_base(
    book: BookSummary, tracks: dict[str, _Track], day_marks: Mapping[InstrumentId, Decimal]
) -> None:
    """(equity - capital) at the day's start, positions at the day's reference prices."""
    missing = {p.currency for p in book.open_positions if p.instrument_id not in day_marks}
    held = {i: m for i, m in day_marks.items() if i in book.positions}
    for ccy, value in _equity(book, held).items():
        if ccy in tracks:
            t = tracks[ccy]
            t.day_base = value - t.capital
            t.out.day_basis = "fill prices" if ccy in missing else "marks"


def performance(
    entries: Sequence[LedgerEntry],
    marks: Mapping[InstrumentId, Decimal],
    now: datetime,
    day_start: datetime,
    max_points: int = 1000,
    day_marks: Mapping[InstrumentId, Decimal] | None = None,
) -> dict[str, CurrencyPerformance]:
    """The figures for each currency of an account, from its ``entries`` in ``seq`` order."""
    book = BookSummary()
    tracks: dict[str, _Track] = {}
    day_marks = day_marks or {}

    def track(ccy: str) -> _Track:
        found = tracks.get(ccy)
        if found is None:
            found = tracks[ccy] = _Track(CurrencyPerformance(ccy))
        return found

    crossed = False
    for entry in entries:
        if not crossed and entry.ts >= day_start:
            crossed = True
            _day_base(book, tracks, day_marks)
        before = dict(book.capital)
        book.add(entry)
        if entry.kind is EntryKind.FILL:
            realized = sum((-p.amount for p in entry.postings if p.book == PNL_REALIZED), _ZERO)
            if realized != 0:
                t = track(entry.postings[0].currency.code)
                t.out.closes += 1
                t.out.wins += realized > 0
        for ccy, value in _equity(book, {}).items():
            t = track(ccy)
            flow = book.capital.get(ccy, _ZERO) - before.get(ccy, _ZERO)
            t.capital += flow
            t.out.peak += flow
            t.out.equity = value
            t.out.peak = max(t.out.peak, value)
            if t.out.peak > 0:
                t.out.max_drawdown = max(t.out.max_drawdown, t.out.drawdown)
            t.out.curve.append((entry.ts, value))
    if not crossed:
        _day_base(book, tracks, day_marks)

    _finish(book, tracks, track, marks, now, max_points)
    return {ccy: t.out for ccy, t in sorted(tracks.items())}


def _finish(
    book: BookSummary,
    tracks: dict[str, _Track],
    track: Callable[[str], _Track],
    marks: Mapping[InstrumentId, Decimal],
    now: datetime,
    max_points: int,
) -> None:
    """The point "now" at the marks, and the figures read off the final book."""
    live = {i: m for i, m in marks.items() if i in book.positions}
    unrealized = book.unrealized({**book.last_prices(), **live})
    for ccy, value in _equity(book, live).items():
        t = track(ccy)
        out = t.out
        out.equity = value
        out.peak = max(out.peak, value)
        if out.peak > 0:
            out.max_drawdown = max(out.max_drawdown, out.drawdown)
        out.curve.append((now, value))
        out.curve = _downsample(out.curve, max_points)
        out.today_pnl = (value - t.capital) - (t.day_base if t.day_base is not None else _ZERO)
        out.realized = book.realized_net(ccy)
        out.unrealized = unrealized.get(ccy, _ZERO)
    for pos in book.open_positions:
        out = track(pos.currency).out
        price = live.get(pos.instrument_id, pos.last_price)
        out.exposure += abs(pos.market_value(price))
        if pos.instrument_id not in live:
            out.unmarked.append(pos.instrument_id.value)
