"""Tick validation: a market event is checked before it may become a mark.

Rejected, counted and reported (never silently dropped):

- ``NON_POSITIVE_PRICE``: a zero or negative price (last, bid, ask, or any of a bar's OHLC);
- ``CROSSED_QUOTE``: a bid above the ask;
- ``OUT_OF_ORDER``: a timestamp older than the last accepted event of the same kind (quote,
  trade or bar) for the instrument, or a bar not newer than the last bar — a replayed or
  reordered message (quotes and trades may share a second);
- ``PRICE_JUMP``: a price more than ``max_jump_pct`` away from the last good mark.

A genuine gap (an overnight move, news) is not refused for ever: when ``confirm_ticks``
consecutive jumped prices agree with each other (each within ``max_jump_pct`` of the first),
the last of them is accepted and becomes the new reference. A lone bad print is refused however
old the reference is, so a wrong first print of the day never becomes the mark.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching.observations import Bar, Quote, TradeTick
from algodesk.domain.values import exact_arithmetic, rounded

__all__ = ["Rejection", "TickRules", "TickValidator", "Verdict"]

_Event = Quote | TradeTick | Bar


class Rejection(StrEnum):
    NON_POSITIVE_PRICE = "NON_POSITIVE_PRICE"
    CROSSED_QUOTE = "CROSSED_QUOTE"
    OUT_OF_ORDER = "OUT_OF_ORDER"
    PRICE_JUMP = "PRICE_JUMP"


@dataclass(frozen=True, slots=True)
class TickRules:
    max_jump_pct: Decimal = Decimal(10)
    confirm_ticks: int = 3

    def __post_init__(self) -> None:
        if self.max_jump_pct <= 0:
            raise ValueError(f"TickRules: expected max_jump_pct > 0, was {self.max_jump_pct}")
        if self.confirm_ticks < 2:
            raise ValueError(f"TickRules: expected confirm_ticks >= 2, was {self.confirm_ticks}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why an event was refused, with the figures."""

    code: Rejection
    message: str


def _stamp(event: _Event) -> datetime:
    return event.ts_close if isinstance(event, Bar) else event.ts


def _price(event: _Event) -> Decimal:
    if isinstance(event, Bar):
        return event.close
    if isinstance(event, TradeTick):
        return event.price
    return event.last


def _prices(event: _Event) -> tuple[tuple[str, Decimal], ...]:
    if isinstance(event, Bar):
        return (
            ("open", event.open),
            ("high", event.high),
            ("low", event.low),
            ("close", event.close),
        )
    if isinstance(event, TradeTick):
        return (("price", event.price),)
    found = [("last", event.last)]
    if event.bid is not None:
        found.append(("bid", event.bid))
    if event.ask is not None:
        found.append(("ask", event.ask))
    return tuple(found)


def _jump_verdict(iid: InstrumentId, px: Decimal, ref: Decimal, rules: TickRules) -> Verdict:
    with rounded():
        move = (abs(px - ref) * 100 / ref).quantize(Decimal("0.01"))
    return Verdict(
        Rejection.PRICE_JUMP,
        f"{iid}: {px} is {move}% from the last good mark {ref} (at most {rules.max_jump_pct}%; "
        f"{rules.confirm_ticks} agreeing prices in a row confirm a real move)",
    )


def _crossed(quote: Quote) -> bool:
    return quote.bid is not None and quote.ask is not None and quote.bid > quote.ask


@dataclass
class TickValidator:
    """Checks events in arrival order and remembers, per instrument, the last good mark."""

    rules: TickRules = field(default_factory=TickRules)
    #: Per-instrument rules, e.g. a wider jump band for an option than for an index.
    overrides: dict[InstrumentId, TickRules] = field(default_factory=dict)
    rejected: Counter[tuple[InstrumentId, Rejection]] = field(default_factory=Counter)
    accepted: int = 0
    _last_ts: dict[tuple[InstrumentId, type], datetime] = field(default_factory=dict)
    _good: dict[InstrumentId, tuple[Decimal, datetime]] = field(default_factory=dict)
    _jumped: dict[InstrumentId, list[Decimal]] = field(default_factory=dict)

    def check(self, event: _Event) -> Verdict | None:
        """``None`` and remember the event when it is good; else the reason (counted)."""
        verdict = self._judge(event)
        if verdict is None:
            self.accepted += 1
            iid, ts = event.instrument_id, _stamp(event)
            self._last_ts[(iid, type(event))] = ts
            self._jumped.pop(iid, None)
            good = self._good.get(iid)
            if good is None or ts >= good[1]:  # an older event of another kind never rewinds
                self._good[iid] = (_price(event), ts)
        else:
            self.rejected[(event.instrument_id, verdict.code)] += 1
        return verdict

    def _jump(
        self, iid: InstrumentId, px: Decimal, ref: Decimal, rules: TickRules
    ) -> Verdict | None:
        """A jumped price: refused, unless it confirms a run of agreeing jumped prices."""
        run = self._jumped.setdefault(iid, [])
        if run and abs(px - run[0]) * 100 > rules.max_jump_pct * run[0]:
            run.clear()
        run.append(px)
        if len(run) >= rules.confirm_ticks:
            return None  # a real move: accepted, it becomes the reference
        return _jump_verdict(iid, px, ref, rules)

    def counts(self) -> dict[Rejection, int]:
        """Rejections by reason, over every instrument."""
        total: Counter[Rejection] = Counter()
        for (_, code), n in self.rejected.items():
            total[code] += n
        return dict(total)

    def last_good(self, instrument_id: InstrumentId) -> tuple[Decimal, datetime] | None:
        return self._good.get(instrument_id)

    @exact_arithmetic
    def _judge(self, event: _Event) -> Verdict | None:
        iid, ts = event.instrument_id, _stamp(event)
        for name, px in _prices(event):
            if px <= 0:
                return Verdict(
                    Rejection.NON_POSITIVE_PRICE, f"{iid}: {name} price must be > 0, was {px}"
                )
        if isinstance(event, Quote) and _crossed(event):
            return Verdict(
                Rejection.CROSSED_QUOTE, f"{iid}: bid {event.bid} is above ask {event.ask}"
            )
        last_ts = self._last_ts.get((iid, type(event)))
        # Quotes and trades may share a second (feeds stamp to the second); bars may not.
        if last_ts is not None and (ts < last_ts or (ts == last_ts and isinstance(event, Bar))):
            return Verdict(
                Rejection.OUT_OF_ORDER,
                f"{iid}: {type(event).__name__} at {ts.isoformat()} is not after the last "
                f"accepted one at {last_ts.isoformat()}",
            )
        good = self._good.get(iid)
        rules = self.overrides.get(iid, self.rules)
        px = _price(event)
        if good is not None and abs(px - good[0]) * 100 > rules.max_jump_pct * good[0]:
            return self._jump(iid, px, good[0], rules)
        return None
