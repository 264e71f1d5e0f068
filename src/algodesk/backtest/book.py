"""The run's own account of its fills: cash, positions and round-trip trades.

It is kept from the fills the engine publishes, independently of the ledger; at the end the
runner checks that both agree on cash and positions (a check of DESIGN invariant 3/4 on every
run). A trade runs from flat to flat in one instrument; a fill that crosses zero closes the
trade with the part that flattens it and opens the next with the rest (fees split pro rata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from algodesk.backtest.results import Trade
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import InstrumentId

__all__ = ["RunBook"]

_ZERO = Decimal(0)
_PRECISION = 60  # averages are divisions; sums and products stay exact at this precision


@dataclass(slots=True)
class _Open:
    long: bool
    entry_time: datetime
    entry_bar: int
    entered: Decimal = _ZERO  # quantity entered (positive)
    entry_value: Decimal = _ZERO  # Σ qty × price of the entries
    exited: Decimal = _ZERO
    exit_value: Decimal = _ZERO
    commission: Decimal = _ZERO
    exit_time: datetime | None = None


@dataclass(slots=True)
class RunBook:
    cash: Decimal
    multipliers: dict[InstrumentId, Decimal]
    positions: dict[InstrumentId, Decimal] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    fees: Decimal = _ZERO
    _open: dict[InstrumentId, _Open] = field(default_factory=dict)

    def apply(self, fill: Fill, bar: int) -> None:
        """Book one fill made during bar number ``bar`` of its instrument."""
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            iid = fill.instrument_id
            mult = self.multipliers[iid]
            qty, price, fee = fill.quantity.value, fill.price.value, fill.fee.amount
            signed = qty if fill.side is OrderSide.BUY else -qty
            self.cash -= signed * price * mult + fee
            self.fees += fee
            before = self.positions.get(iid, _ZERO)
            after = before + signed
            self.positions[iid] = after
            if before == 0:
                self._start(iid, fill, qty, price, fee, bar)
            elif (before > 0) == (signed > 0):
                self._add(iid, qty, price, fee)
            elif abs(signed) <= abs(before):
                self._reduce(iid, qty, price, fee, fill.ts, bar)
            else:  # crosses zero: flatten, then open the other way with the rest
                part = abs(before)
                share = fee * part / qty
                self._reduce(iid, part, price, share, fill.ts, bar)
                self._start(iid, fill, qty - part, price, fee - share, bar)

    def _start(
        self, iid: InstrumentId, fill: Fill, qty: Decimal, price: Decimal, fee: Decimal, bar: int
    ) -> None:
        self._open[iid] = _Open(fill.side is OrderSide.BUY, fill.ts, bar)
        self._add(iid, qty, price, fee)

    def _add(self, iid: InstrumentId, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        trade = self._open[iid]
        trade.entered += qty
        trade.entry_value += qty * price
        trade.commission += fee

    def _reduce(
        self, iid: InstrumentId, qty: Decimal, price: Decimal, fee: Decimal, ts: datetime, bar: int
    ) -> None:
        trade = self._open[iid]
        trade.exited += qty
        trade.exit_value += qty * price
        trade.commission += fee
        if trade.exited == trade.entered:
            self.trades.append(self._trade(iid, trade, ts, bar))
            del self._open[iid]

    def _trade(
        self,
        iid: InstrumentId,
        t: _Open,
        exit_time: datetime | None,
        bar: int,
        mark: Decimal | None = None,
    ) -> Trade:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            mult = self.multipliers[iid]
            entry_price = t.entry_value / t.entered
            if exit_time is not None:
                exit_price: Decimal | None = t.exit_value / t.exited
                gross = (t.exit_value - t.entry_value) * mult
            else:  # open: exits so far, the rest at the mark
                exit_price = None
                assert mark is not None
                held = t.entered - t.exited
                gross = (t.exit_value + held * mark - t.entry_value) * mult
            pnl = (gross if t.long else -gross) - t.commission
            return Trade(
                instrument=iid.symbol,
                side="LONG" if t.long else "SHORT",
                entry_time=t.entry_time,
                entry_price=entry_price.normalize() if entry_price else entry_price,
                quantity=t.entered if exit_time is not None else t.entered - t.exited,
                commission=t.commission,
                pnl=pnl,
                exit_time=exit_time,
                exit_price=exit_price.normalize() if exit_price else exit_price,
                bars=bar - t.entry_bar,
            )

    def open_trades(
        self, marks: dict[InstrumentId, Decimal], bars: dict[InstrumentId, int]
    ) -> list[Trade]:
        """Positions still open, marked at ``marks`` (the last closes), not closed."""
        return [self._trade(iid, t, None, bars[iid], marks[iid]) for iid, t in self._open.items()]

    def equity(self, marks: dict[InstrumentId, Decimal]) -> Decimal:
        """Cash plus every position at ``marks``."""
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            total = self.cash
            for iid, qty in self.positions.items():
                if qty:
                    total += qty * marks[iid] * self.multipliers[iid]
            return total
