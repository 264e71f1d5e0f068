"""Circuit breakers: drawdown from peak equity, daily loss, consecutive losses, errors per hour.

A :class:`CircuitBreaker` watches one scope (an account or a bot). A trip moves the scope to
HALTED or REDUCING (configurable per breaker), records the reason and the figures, and lasts until
its reset time (default 24 h) or an explicit :meth:`CircuitBreaker.reset`. Every trip and every
reset stays in :attr:`CircuitBreaker.history`. The breaker never reads a clock: callers pass
``now``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from algodesk.domain.risk.base import TradingState, fmt
from algodesk.domain.values import exact_arithmetic, rounded

__all__ = ["BreakerConfig", "BreakerKind", "CircuitBreaker", "Trip"]

_HOUR = timedelta(hours=1)
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class BreakerKind(StrEnum):
    DRAWDOWN = "DRAWDOWN_LIMIT"
    DAILY_LOSS = "DAILY_LOSS_LIMIT"
    CONSECUTIVE_LOSSES = "CONSECUTIVE_LOSSES"
    ERROR_RATE = "ERROR_RATE_BREAKER"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """``None`` switches a breaker off. Percentages are in percent (``5`` = 5%)."""

    max_drawdown_pct: Decimal | None = None
    daily_loss_pct: Decimal | None = None
    max_consecutive_losses: int | None = None
    max_errors_per_hour: int | None = None
    drawdown_action: TradingState = TradingState.HALTED
    daily_loss_action: TradingState = TradingState.REDUCING
    consecutive_losses_action: TradingState = TradingState.REDUCING
    error_rate_action: TradingState = TradingState.HALTED
    reset_after: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Trip:
    kind: BreakerKind
    state: TradingState
    at: datetime
    reset_at: datetime
    figures: tuple[tuple[str, str], ...]
    reset_on: datetime | None = None
    reset_by: str | None = None

    @property
    def reason(self) -> str:
        return f"{self.kind.value}: " + ", ".join(f"{k}={v}" for k, v in self.figures)


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    """For display only: decisions compare exactly with :func:`_at_least`."""
    with rounded():
        return (part * 100 / whole).quantize(Decimal("0.0001"))


@exact_arithmetic
def _at_least(part: Decimal, whole: Decimal, pct: Decimal) -> bool:
    """``part / whole >= pct %``, exactly (no division, no rounding)."""
    return part * 100 >= pct * whole


@dataclass
class CircuitBreaker:
    config: BreakerConfig
    peak_equity: Decimal | None = None
    losses_in_a_row: int = 0
    errors: deque[datetime] = field(default_factory=deque)
    active: list[Trip] = field(default_factory=list)
    history: list[Trip] = field(default_factory=list)

    @property
    def state(self) -> TradingState:
        """The most severe state among the active trips (ACTIVE when none)."""
        worst = TradingState.ACTIVE
        for trip in self.active:
            if _SEVERITY[trip.state] > _SEVERITY[worst]:
                worst = trip.state
        return worst

    def _trip(
        self, kind: BreakerKind, action: TradingState, now: datetime, **figures: object
    ) -> Trip | None:
        if any(t.kind is kind for t in self.active):
            return None  # already tripped for this reason
        trip = Trip(
            kind=kind,
            state=action,
            at=now,
            reset_at=now + self.config.reset_after,
            figures=tuple(
                (k, fmt(v) if isinstance(v, Decimal | int) else str(v)) for k, v in figures.items()
            ),
        )
        self.active.append(trip)
        self.history.append(trip)
        return trip

    def observe_equity(
        self, now: datetime, equity: Decimal, day_start_equity: Decimal | None = None
    ) -> Trip | None:
        """Mark-to-market equity: the drawdown from its peak, and the loss since the day began."""
        self.expire(now)
        cfg = self.config
        if self.peak_equity is None or equity > self.peak_equity:
            self.peak_equity = equity
        peak = self.peak_equity
        drawdown_limit = cfg.max_drawdown_pct
        if (
            drawdown_limit is not None
            and peak > 0
            and _at_least(peak - equity, peak, drawdown_limit)
        ):
            return self._trip(
                BreakerKind.DRAWDOWN,
                cfg.drawdown_action,
                now,
                drawdown_pct=_pct(peak - equity, peak),
                limit_pct=cfg.max_drawdown_pct,
                peak_equity=peak,
                equity=equity,
            )
        loss_limit, start = cfg.daily_loss_pct, day_start_equity
        if (
            loss_limit is not None
            and start is not None
            and start > 0
            and _at_least(start - equity, start, loss_limit)
        ):
            return self._trip(
                BreakerKind.DAILY_LOSS,
                cfg.daily_loss_action,
                now,
                daily_loss_pct=_pct(start - equity, start),
                limit_pct=cfg.daily_loss_pct,
                day_start_equity=day_start_equity,
                equity=equity,
            )
        return None

    def observe_closed_trade(self, now: datetime, pnl: Decimal) -> Trip | None:
        """A closed trade's net P&L: losses in a row trip the breaker; a win resets the count."""
        self.expire(now)
        self.losses_in_a_row = self.losses_in_a_row + 1 if pnl < 0 else 0
        limit = self.config.max_consecutive_losses
        if limit is not None and self.losses_in_a_row >= limit:
            return self._trip(
                BreakerKind.CONSECUTIVE_LOSSES,
                self.config.consecutive_losses_action,
                now,
                losses_in_a_row=self.losses_in_a_row,
                limit=limit,
            )
        return None

    def observe_error(self, now: datetime) -> Trip | None:
        """A venue reject or timeout: too many in the last hour trip the breaker."""
        self.expire(now)
        self.errors.append(now)
        while self.errors and now - self.errors[0] >= _HOUR:
            self.errors.popleft()
        limit = self.config.max_errors_per_hour
        if limit is not None and len(self.errors) >= limit:
            return self._trip(
                BreakerKind.ERROR_RATE,
                self.config.error_rate_action,
                now,
                errors_last_hour=len(self.errors),
                limit=limit,
            )
        return None

    def _close(self, trips: list[Trip], now: datetime, by: str) -> list[Trip]:
        closed = [replace(t, reset_on=now, reset_by=by) for t in trips]
        for old, new in zip(trips, closed, strict=True):
            self.history[self.history.index(old)] = new
            self.active.remove(old)
        return closed

    def expire(self, now: datetime) -> list[Trip]:
        """Reset the trips whose time is up; returns them."""
        due = [t for t in self.active if now >= t.reset_at]
        return self._close(due, now, "timer")

    def reset(self, now: datetime, by: str) -> list[Trip]:
        """An explicit, audited reset of every active trip. The peak, the loss streak and the
        error window start afresh, so the same figures do not trip again at once."""
        if not by.strip():
            raise ValueError("a reset needs to say who reset the breaker")
        self.losses_in_a_row = 0
        self.errors.clear()
        self.peak_equity = None
        return self._close(list(self.active), now, by)
