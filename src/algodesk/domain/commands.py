"""Commands: what someone asks the engine to do, in the imperative. The engine applies them in
order, one account at a time; submits and modifies pass the risk gates, cancels, flatten and the
kill switch never do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.risk.base import TradingState
from algodesk.domain.values import Price, Quantity, price, quantity, to_decimal

__all__ = [
    "CancelOrder",
    "Command",
    "Flatten",
    "ModifyOrder",
    "SetTradingState",
    "SubmitOrder",
    "submit_from_payload",
    "submit_payload",
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


def _px(value: Price | None) -> str | None:
    return None if value is None else str(value.value)


def _text(payload: Mapping[str, object], name: str) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"submit payload: {name} must be text, was {value!r}")
    return value


def submit_payload(command: SubmitOrder) -> dict[str, object]:
    """``command`` as JSON values, for :func:`submit_from_payload`. Numbers are written as
    ``str`` writes a Decimal, which reads back as the same Decimal, exponent included (so the
    command's repr, and with it its fingerprint, is the same)."""
    exits = command.exits
    trailing = exits.trailing if exits is not None else None
    return {
        "account_id": command.account_id.value,
        "idempotency_key": command.idempotency_key,
        "instrument_id": command.instrument_id.value,
        "side": command.side.value,
        "order_type": command.order_type.value,
        "quantity": str(command.quantity.value),
        "price": _px(command.price),
        "trigger_price": _px(command.trigger_price),
        "time_in_force": command.time_in_force.value,
        "expire_time": None if command.expire_time is None else command.expire_time.isoformat(),
        "bot_id": None if command.bot_id is None else command.bot_id.value,
        "reduce_only": command.reduce_only,
        "client_order_id": None
        if command.client_order_id is None
        else command.client_order_id.value,
        "target_price": _px(command.target_price),
        "exits": None
        if exits is None
        else {
            "stop_loss": _px(exits.stop_loss),
            "take_profit": _px(exits.take_profit),
            "trailing": None
            if trailing is None
            else {"distance": str(trailing.distance), "unit": trailing.unit.value},
        },
        "oco_with": None if command.oco_with is None else command.oco_with.value,
    }


def submit_from_payload(payload: Mapping[str, object]) -> SubmitOrder:
    """The command :func:`submit_payload` wrote (equal to it, field for field). A payload
    that is not one (a field missing, of the wrong type, or not a valid value) is a
    ``ValueError`` naming it: nothing is read as a default (a damaged ``reduce_only`` or stop
    would otherwise come back as an order that adds to a position, unprotected)."""
    try:
        return _submit_from(payload)
    except ValueError:
        raise
    except (AttributeError, KeyError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"submit payload: unreadable ({type(exc).__name__}: {exc})") from None


def _submit_from(payload: Mapping[str, object]) -> SubmitOrder:
    def opt_price(name: str, within: Mapping[str, object] = payload) -> Price | None:
        text = _text(within, name)
        return None if text is None else price(text)

    def need(name: str, within: Mapping[str, object] = payload) -> str:
        text = _text(within, name)
        if text is None:
            raise ValueError(f"submit payload: {name} is missing")
        return text

    def mapping(name: str, within: Mapping[str, object]) -> Mapping[str, object] | None:
        value = within.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise ValueError(f"submit payload: {name} must be an object, was {value!r}")
        return value

    exits = mapping("exits", payload)
    plan: ExitPlan | None = None
    if exits is not None:
        trailing = mapping("trailing", exits)
        plan = ExitPlan(
            stop_loss=opt_price("stop_loss", exits),
            take_profit=opt_price("take_profit", exits),
            trailing=None
            if trailing is None
            else Trailing(
                to_decimal(need("distance", trailing)), TrailingUnit(need("unit", trailing))
            ),
        )
    reduce_only = payload.get("reduce_only", False)
    if not isinstance(reduce_only, bool):
        raise ValueError(f"submit payload: reduce_only must be true or false, was {reduce_only!r}")
    expire = _text(payload, "expire_time")
    bot, coid, oco = (_text(payload, n) for n in ("bot_id", "client_order_id", "oco_with"))
    return SubmitOrder(
        account_id=AccountId(need("account_id")),
        idempotency_key=_text(payload, "idempotency_key"),
        instrument_id=InstrumentId(need("instrument_id")),
        side=OrderSide(need("side")),
        order_type=OrderType(need("order_type")),
        quantity=quantity(need("quantity")),
        price=opt_price("price"),
        trigger_price=opt_price("trigger_price"),
        time_in_force=TimeInForce(need("time_in_force")),
        expire_time=None if expire is None else datetime.fromisoformat(expire),
        bot_id=None if bot is None else BotId(bot),
        reduce_only=reduce_only,
        client_order_id=None if coid is None else ClientOrderId(coid),
        target_price=opt_price("target_price"),
        exits=plan,
        oco_with=None if oco is None else ClientOrderId(oco),
    )
