"""Bots: a strategy or signal source with its own capital, limits, venue, symbols and sizing,
and a lifecycle with its history.

==========  ==================================================================
CREATED     configured; takes no orders yet
RUNNING     takes entries and exits
PAUSED      takes no new entries; its exits still run
STOPPED     final: no new entries ever; its positions are flattened on stop
==========  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from algodesk.domain.identifiers import AccountId, BotId, Venue
from algodesk.domain.market.option_symbols import SymbolTarget
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.sizing import FixedQuantity, SizingRule
from algodesk.domain.values import Money

__all__ = ["Bot", "BotError", "BotStatus", "BotTransition"]


class BotStatus(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"


class BotError(ValueError):
    """An illegal lifecycle change or configuration."""


_MOVES: Mapping[str, tuple[frozenset[BotStatus], BotStatus]] = MappingProxyType(
    {
        "start": (frozenset({BotStatus.CREATED}), BotStatus.RUNNING),
        "pause": (frozenset({BotStatus.RUNNING}), BotStatus.PAUSED),
        "resume": (frozenset({BotStatus.PAUSED}), BotStatus.RUNNING),
        "stop": (
            frozenset({BotStatus.CREATED, BotStatus.RUNNING, BotStatus.PAUSED}),
            BotStatus.STOPPED,
        ),
    }
)


@dataclass(frozen=True, slots=True)
class BotTransition:
    at: datetime
    action: str
    before: BotStatus
    after: BotStatus
    by: str
    reason: str = ""


@dataclass(slots=True)
class Bot:
    id: BotId
    account_id: AccountId
    venue: Venue
    allocation: Money
    limits: RiskLimits = field(default_factory=RiskLimits)
    #: TradingView ticker → an instrument, or an option symbol resolved when an alert arrives.
    symbol_map: Mapping[str, SymbolTarget] = field(default_factory=dict)
    sizing: SizingRule = field(default_factory=lambda: FixedQuantity(Decimal(1)))
    status: BotStatus = BotStatus.CREATED
    history: list[BotTransition] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.allocation.amount < 0:
            raise BotError(f"bot {self.id}: expected an allocation >= 0, was {self.allocation}")
        for symbol, instrument in self.symbol_map.items():
            if instrument.venue != self.venue:
                raise BotError(
                    f"bot {self.id}: symbol {symbol} maps to {instrument} on another venue than "
                    f"the bot's {self.venue}"
                )

    @property
    def takes_entries(self) -> bool:
        return self.status is BotStatus.RUNNING

    def instrument_for(self, symbol: str) -> SymbolTarget:
        """The venue instrument (or option symbol) a signal's symbol means for this bot."""
        try:
            return self.symbol_map[symbol]
        except KeyError:
            known = ", ".join(sorted(self.symbol_map)) or "none"
            raise BotError(
                f"bot {self.id}: no instrument for symbol {symbol!r} (mapped: {known})"
            ) from None

    def move(self, action: str, at: datetime, by: str, reason: str = "") -> BotTransition:
        """Apply a lifecycle action (start, pause, resume, stop); illegal moves raise."""
        try:
            allowed, target = _MOVES[action]
        except KeyError:
            raise BotError(f"expected one of {', '.join(_MOVES)}, was {action!r}") from None
        if self.status not in allowed:
            raise BotError(
                f"bot {self.id}: cannot {action} a bot that is {self.status} "
                f"(only from {', '.join(sorted(allowed))})"
            )
        step = BotTransition(at, action, self.status, target, by, reason)
        self.status = target
        self.history.append(step)
        return step
