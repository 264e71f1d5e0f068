"""Market observations the matching engine fills against: a live quote or a bar.

Numbers are kept as ``Decimal``; ``int`` and decimal strings are converted exactly and floats
are refused with a ``TypeError``. Times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from algodesk.domain.fills import require_utc
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.values import to_decimal

__all__ = ["Bar", "Quote", "TradeTick"]


def _set_decimal(obj: object, name: str) -> Decimal:
    value = to_decimal(getattr(obj, name))
    object.__setattr__(obj, name, value)
    return value


@dataclass(frozen=True, slots=True)
class Quote:
    """A live mark: the last traded price and, when the feed has them, the best bid and ask."""

    instrument_id: InstrumentId
    ts: datetime
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None

    def __post_init__(self) -> None:
        require_utc("Quote.ts", self.ts)
        _set_decimal(self, "last")
        if self.bid is not None:
            _set_decimal(self, "bid")
        if self.ask is not None:
            _set_decimal(self, "ask")


@dataclass(frozen=True, slots=True)
class Bar:
    """An OHLCV bar stamped at its close; ``volume`` counts the instrument's quantity units."""

    instrument_id: InstrumentId
    ts_close: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def __post_init__(self) -> None:
        require_utc("Bar.ts_close", self.ts_close)
        o, h, low, c, v = (
            _set_decimal(self, n) for n in ("open", "high", "low", "close", "volume")
        )
        if h < max(o, c) or low > min(o, c):
            raise ValueError(
                f"Bar {self.instrument_id} at {self.ts_close.isoformat()}: expected "
                f"low <= open, close <= high, was O={o} H={h} L={low} C={c}"
            )
        if v < 0:
            raise ValueError(f"Bar {self.instrument_id}: expected volume >= 0, was {v}")


@dataclass(frozen=True, slots=True)
class TradeTick:
    """One trade printed by the venue: price and quantity (``trade_id`` when the feed has it)."""

    instrument_id: InstrumentId
    ts: datetime
    price: Decimal
    quantity: Decimal
    trade_id: str | None = None

    def __post_init__(self) -> None:
        require_utc("TradeTick.ts", self.ts)
        _set_decimal(self, "price")
        if _set_decimal(self, "quantity") < 0:
            raise ValueError(f"TradeTick {self.instrument_id}: expected quantity >= 0")
