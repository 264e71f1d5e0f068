"""What a backtest produces: trades, orders, the equity curve, statistics; and its JSON form.

Money is ``Decimal`` here and a decimal string in JSON; times are UTC and ISO 8601 in JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["BacktestResult", "EquityPoint", "OrderRecord", "Trade", "plain"]


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip in one instrument: from flat to flat (``exit_*`` None while open).

    ``entry_price`` / ``exit_price`` are quantity-weighted averages of the fills; ``pnl`` is net
    of ``commission`` (all fees of the entry and exit fills); ``side`` is ``LONG`` or ``SHORT``.
    """

    instrument: str
    side: str
    entry_time: datetime
    entry_price: Decimal
    quantity: Decimal
    commission: Decimal
    pnl: Decimal
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    bars: int = 0

    @property
    def is_open(self) -> bool:
        return self.exit_time is None

    def to_json(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "side": self.side,
            "entry_time": self.entry_time.isoformat(),
            "entry_price": str(self.entry_price),
            "exit_time": self.exit_time.isoformat() if self.exit_time else None,
            "exit_price": str(self.exit_price) if self.exit_price is not None else None,
            "quantity": str(self.quantity),
            "pnl": str(self.pnl),
            "commission": str(self.commission),
            "bars": self.bars,
        }


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order the run sent (or had denied), as the engine stored it."""

    order_id: str
    instrument: str
    side: str
    order_type: str
    quantity: Decimal
    status: str
    created_at: datetime
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    filled_quantity: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    reason: str | None = None
    tag: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "instrument": self.instrument,
            "side": self.side,
            "order_type": self.order_type,
            "quantity": str(self.quantity),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "price": None if self.price is None else str(self.price),
            "trigger_price": None if self.trigger_price is None else str(self.trigger_price),
            "filled_quantity": str(self.filled_quantity),
            "avg_fill_price": None if self.avg_fill_price is None else str(self.avg_fill_price),
            "reason": self.reason,
            "tag": self.tag,
        }


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """Equity at one bar's close: cash plus every position at that bar's close."""

    time: datetime
    equity: Decimal
    cash: Decimal
    exposure: Decimal  # gross value of the positions


@dataclass(slots=True)
class BacktestResult:
    """Everything a run produced. ``stats`` maps a statistic's name to a float, an int,
    ``None`` (undefined, e.g. a Sharpe ratio without variance) or a ``Decimal`` (money)."""

    strategy: str
    params: Mapping[str, Any]
    config: Mapping[str, Any]
    trades: list[Trade]
    open_trades: list[Trade]
    orders: list[OrderRecord]
    equity: list[EquityPoint]
    initial_cash: Decimal
    final_equity: Decimal
    stats: dict[str, Any] = field(default_factory=dict)
    prices: Mapping[str, Sequence[tuple[datetime, float, float, float, float]]] = field(
        default_factory=dict
    )
    ledger_verified: bool = False

    @property
    def open_trade(self) -> Trade | None:
        """The position still open at the end (the first, when several instruments are)."""
        return self.open_trades[0] if self.open_trades else None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params": {k: plain(v) for k, v in self.params.items()},
            "config": {k: plain(v) for k, v in self.config.items()},
            "trades": [t.to_json() for t in self.trades],
            "open_trade": self.open_trade.to_json() if self.open_trade else None,
            "open_trades": [t.to_json() for t in self.open_trades],
            "orders": [o.to_json() for o in self.orders],
            "initial_cash": str(self.initial_cash),
            "final_equity": str(self.final_equity),
            "stats": {k: plain(v) for k, v in self.stats.items()},
            "ledger_verified": self.ledger_verified,
        }


def plain(value: Any) -> Any:
    """``value`` for JSON: Decimals as strings, datetimes in ISO 8601, containers walked."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value
