"""Exits attached to an entry: stop-loss, take-profit and a trailing stop, watched on marks.

An :class:`ExitWatch` guards the quantity an entry filled. On each mark it says whether an exit
fires. When a stop-loss and a take-profit are both crossed by one mark (a gap), the stop-loss
wins: the pessimistic rule. A trailing stop is tested against the mark before it ratchets, so
the same mark cannot both move it and spare it. A mark that fires the take-profit has passed
that test and ratchets it: should the take-profit be kept out (a halted account), the trailing
stop follows the high it reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId, InstrumentId
from algodesk.domain.values import Price, exact_arithmetic

__all__ = ["ExitKind", "ExitPlan", "ExitWatch", "Trailing", "TrailingUnit"]


class TrailingUnit(StrEnum):
    PERCENT = "PERCENT"
    POINTS = "POINTS"


@dataclass(frozen=True, slots=True)
class Trailing:
    distance: Decimal
    unit: TrailingUnit = TrailingUnit.PERCENT

    def __post_init__(self) -> None:
        if not isinstance(self.distance, Decimal) or self.distance <= 0:
            raise ValueError(f"trailing distance: expected a Decimal > 0, was {self.distance!r}")
        if self.unit is TrailingUnit.PERCENT and self.distance >= 100:
            raise ValueError(f"trailing distance: expected under 100 %, was {self.distance}")


@dataclass(frozen=True, slots=True)
class ExitPlan:
    stop_loss: Price | None = None
    take_profit: Price | None = None
    trailing: Trailing | None = None

    @property
    def empty(self) -> bool:
        return self.stop_loss is None and self.take_profit is None and self.trailing is None

    def check_against(self, side: OrderSide, entry_price: Decimal) -> None:
        """A long's stop lies below its entry and its target above; a short's the reverse."""
        sl, tp = self.stop_loss, self.take_profit
        if side is OrderSide.BUY:
            if sl is not None and sl.value >= entry_price:
                raise ValueError(f"a long's stop-loss {sl} must lie below the entry {entry_price}")
            if tp is not None and tp.value <= entry_price:
                raise ValueError(
                    f"a long's take-profit {tp} must lie above the entry {entry_price}"
                )
        else:
            if sl is not None and sl.value <= entry_price:
                raise ValueError(f"a short's stop-loss {sl} must lie above the entry {entry_price}")
            if tp is not None and tp.value >= entry_price:
                raise ValueError(
                    f"a short's take-profit {tp} must lie below the entry {entry_price}"
                )


class ExitKind(StrEnum):
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    TRAILING_STOP = "TRAILING_STOP"


@dataclass(slots=True)
class ExitWatch:
    """Watches the position an entry opened. ``side`` is the entry's side."""

    entry: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    plan: ExitPlan
    best: Decimal  # the most favourable mark since entry (for the trailing stop)
    fired: ExitKind | None = None
    attempts: int = 0

    def rearm(self) -> None:
        """The exit order was denied for a passing reason: watch again from the next mark."""
        self.fired = None
        self.attempts += 1

    def hold_back(self) -> None:
        """The exit was not sent (the gates would deny it as they did before): watch again
        from the next mark. No attempt was used (its idempotency key stays free)."""
        self.fired = None

    @property
    def exit_side(self) -> OrderSide:
        return self.side.opposite

    @exact_arithmetic
    def trailing_stop(self) -> Decimal | None:
        trail = self.plan.trailing
        if trail is None:
            return None
        gap = (
            self.best * trail.distance / 100
            if trail.unit is TrailingUnit.PERCENT
            else trail.distance
        )
        return self.best - gap if self.side is OrderSide.BUY else self.best + gap

    def on_mark(self, mark: Decimal) -> ExitKind | None:
        """The exit this mark fires, if any (once fired, a watch fires no more)."""
        if self.fired is not None or self.quantity <= 0:
            return None
        long = self.side is OrderSide.BUY
        sl, tp = self.plan.stop_loss, self.plan.take_profit
        trail = self.trailing_stop()
        fired: ExitKind | None = None
        if sl is not None and (mark <= sl.value if long else mark >= sl.value):
            fired = ExitKind.STOP_LOSS
        elif trail is not None and (mark <= trail if long else mark >= trail):
            fired = ExitKind.TRAILING_STOP
        elif tp is not None and (mark >= tp.value if long else mark <= tp.value):
            fired = ExitKind.TAKE_PROFIT
        favourable = fired in (None, ExitKind.TAKE_PROFIT)  # its mark passed the adverse test
        if favourable and (mark > self.best if long else mark < self.best):
            self.best = mark  # ratchet only after the adverse test
        self.fired = fired
        return fired
