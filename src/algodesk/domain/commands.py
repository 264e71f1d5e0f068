"""Commands: what someone asks the engine to do, in the imperative. The engine applies them in
order, one account at a time; submits and modifies pass the risk gates, cancels, flatten and the
kill switch never do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.risk.base import TradingState
from algodesk.domain.values import Price, Quantity

__all__ = [
    "CancelOrder",
    "Command",
    "Flatten",
    "ModifyOrder",
    "SetTradingState",
    "SubmitOrder",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """``idempotency_key``: a command whose key was seen before returns the first outcome."""

    account_id: AccountId
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitOrder(Command):
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    expire_time: datetime | None = None
    bot_id: BotId | None = None
    reduce_only: bool = False
    client_order_id: ClientOrderId | None = None
    #: A signal's profit target: with it, the fee-coverage gate checks the expected edge.
    target_price: Price | None = None
    #: Stop-loss, take-profit and trailing stop, armed when the order fills.
    exits: ExitPlan | None = None
    #: The other leg of a one-cancels-other pair (a bracket's stop-loss and take-profit): a
    #: working order of the same account, instrument and side, of which at most one fills, so
    #: its quantity is not counted ahead of this one. Linking them at the venue is the
    #: venue's business (the paper exchange: ``PaperBroker.one_cancels_other``).
    oco_with: ClientOrderId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder(Command):
    client_order_id: ClientOrderId


@dataclass(frozen=True, slots=True, kw_only=True)
class ModifyOrder(Command):
    client_order_id: ClientOrderId
    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Flatten(Command):
    """Cancel every working order and close every position of the scope: one bot, one
    instrument, or (neither given) the whole account."""

    bot_id: BotId | None = None
    instrument_id: InstrumentId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTradingState(Command):
    state: TradingState
    reason: str
    bot_id: BotId | None = None
