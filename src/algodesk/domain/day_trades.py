"""Day trades for the US pattern-day-trader rule: a closing fill that reduces a position opened
on the same trading day. Counted from the ledger's fills, by instrument across the fills given:
the broker counts the account's position, so a bot's buy and another bot's sale of the same
stock on one day are a day trade (pass one bot's fills for that bot's own count).

One closing fill is one day trade, however many same-day lots it closes (the broker's usual
counting). The trading day here is the fill's UTC date and the window the last five weekdays;
exchange calendars (holidays) will refine both.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.ledger.booking import FillTerms
from algodesk.domain.ledger.entries import EntryKind, LedgerEntry
from algodesk.domain.values import exact_arithmetic

__all__ = ["count_day_trades", "window_start"]


def window_start(today: date, business_days: int = 5) -> date:
    """The first day of the window of ``business_days`` weekdays ending ``today``."""
    day, counted = today, 1 if today.weekday() < 5 else 0
    while counted < business_days:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return day


@exact_arithmetic
def count_day_trades(entries: Iterable[LedgerEntry], since: date) -> int:
    """Day trades on or after ``since``: fills that reduce a position opened the same day."""
    position: dict[InstrumentId, Decimal] = {}
    opened_today: dict[InstrumentId, tuple[date, Decimal]] = {}
    count = 0
    for entry in entries:
        if entry.kind is not EntryKind.FILL:
            continue
        terms = FillTerms.of(entry.details)
        key = terms.instrument_id
        day = entry.ts.date()
        before = position.get(key, Decimal(0))
        signed = terms.quantity * terms.side.sign
        after = before + signed
        opened_day, opened = opened_today.get(key, (day, Decimal(0)))
        if opened_day != day:
            opened = Decimal(0)
        reduces = before * signed < 0
        if reduces:
            closed = min(abs(signed), abs(before))
            if opened > 0 and day >= since:
                count += 1
            opened = max(Decimal(0), opened - closed)
        if abs(after) > abs(before) or before * after < 0:
            opened += abs(after) if before * after < 0 else abs(after) - abs(before)
        opened_today[key] = (day, opened)
        position[key] = after
    return count
