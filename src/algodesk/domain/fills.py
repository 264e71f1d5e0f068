"""A fill: one execution reported by a venue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from algodesk.domain.identifiers import (
    AccountId,
    BotId,
    ClientOrderId,
    InstrumentId,
    TradeId,
    Venue,
)
from algodesk.domain.values import Money, Price, Quantity

__all__ = ["Fill", "OrderSide", "require_utc"]


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


def require_utc(name: str, value: datetime) -> datetime:
    """Times inside algodesk are timezone-aware UTC; exchange time zones live at the edges."""
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name}: expected a timezone-aware UTC datetime, was {value!r}")
    if value.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{name}: expected UTC, was offset {value.utcoffset()}")
    return value


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``(venue, trade_id)`` identifies it; a replay with the same key is a dupe."""

    account_id: AccountId
    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    venue: Venue
    trade_id: TradeId
    side: OrderSide
    quantity: Quantity
    price: Price
    fee: Money
    ts: datetime
    bot_id: BotId | None = None

    def __post_init__(self) -> None:
        require_utc("Fill.ts", self.ts)
        if self.quantity.is_zero():
            raise ValueError(f"fill {self.trade_id}: expected a quantity > 0, was 0")
        if self.fee.amount < 0:
            raise ValueError(f"fill {self.trade_id}: expected a fee >= 0, was {self.fee}")

    @property
    def key(self) -> tuple[Venue, TradeId]:
        return (self.venue, self.trade_id)

    def same_execution(self, other: Fill) -> bool:
        """True when ``other`` reports the very same execution (an exact replay).

        The time stamp may differ between reports of one execution; nothing else may.
        """
        return (
            self.key == other.key
            and self.account_id == other.account_id
            and self.client_order_id == other.client_order_id
            and self.instrument_id == other.instrument_id
            and self.side == other.side
            and self.quantity == other.quantity
            and self.price == other.price
            and self.fee == other.fee
            and self.bot_id == other.bot_id
        )
