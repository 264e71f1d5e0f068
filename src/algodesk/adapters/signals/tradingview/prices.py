"""The order type and the prices of an intent.

The order type comes from ``order_type`` / ``orderType`` / ``price_type`` (and ``type`` when
its value is one): market (default), limit, stop, stop_limit; anything else is BAD_VALUE.

=============  =================================================================
order type     price fields
=============  =================================================================
MARKET         ``price`` (and the limit-price names below) and ``trigger_price``
               (3Commas: ``{{close}}``) are only signal prices; ``stop_price`` is a
               stop-loss (OctoBot's STOP_PRICE)
LIMIT          ``price`` ``limit`` ``limit_price`` ``order_price`` ``entry``
               ``entry_price``: the limit price, required; ``trigger_price`` is a
               signal price; ``stop_price`` is a stop-loss
STOP           the same names or ``stop_price`` / ``trigger_price``: the trigger,
               required; a price and a different stop_price is AMBIGUOUS
STOP_LIMIT     one price, the limit at the trigger; a different limit and trigger
               is BAD_VALUE
=============  =================================================================

The signal price is the first of ``signalPrice``, (MARKET) the price names, (MARKET,
LIMIT) ``trigger_price``, ``strategy.order.price``, ``close``; an empty or ``na`` one is
absent, a malformed one BAD_VALUE. Every price must be a plain number above zero.
"""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.signals.tradingview.errors import Reject, show, show_value
from algodesk.adapters.signals.tradingview.fields import Field, Fields, agree, present, word
from algodesk.adapters.signals.tradingview.numbers import is_sentinel, parse_amount
from algodesk.adapters.signals.tradingview.vocabulary import (
    ORDER_TYPE_KEYS,
    ORDER_TYPES,
    PRICE_KEYS,
    SIGNAL_PRICE_KEYS,
    TRIGGER_KEYS,
    TYPE_KEY,
    normalise_word,
)
from algodesk.domain.orders import OrderType
from algodesk.domain.signals import AlertReason

__all__ = ["read_order_type", "read_prices"]


def read_order_type(fields: Fields) -> OrderType:
    expected = "market, limit, stop or stop_limit"
    found: list[tuple[Field, OrderType]] = []
    for field in present(fields, ORDER_TYPE_KEYS):
        order_type = ORDER_TYPES.get(word(field, expected))
        if order_type is None:
            raise Reject(
                AlertReason.BAD_VALUE,
                f"{show(field.key)} {show_value(field.value)}: expected {expected}",
            )
        found.append((field, order_type))
    typed = fields.get(TYPE_KEY)
    if typed is not None and isinstance(typed.value, str):
        order_type = ORDER_TYPES.get(normalise_word(typed.value))
        if order_type is not None:
            found.append((typed, order_type))
    return agree(found, "order type", lambda t: t.value.lower()) or OrderType.MARKET


def _price(field: Field) -> Decimal:
    expected = 'a price above zero like "187.25"'
    if is_sentinel(field.value):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {expected}",
        )
    amount = parse_amount(field.value, show(field.key), expected)
    if amount.percent or amount.value <= 0:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {expected}",
        )
    return amount.value


def read_prices(fields: Fields, order_type: OrderType) -> tuple[Decimal | None, Decimal | None]:
    """(price, signal_price) for the order type."""
    limits = present(fields, PRICE_KEYS)
    first, rest = present(fields, SIGNAL_PRICE_KEYS[:1]), present(fields, SIGNAL_PRICE_KEYS[1:])
    if order_type is OrderType.MARKET:
        return None, _signal(first + limits + present(fields, ("triggerprice",)) + rest)
    limit = agree(((f, _price(f)) for f in limits), "limit price", str)
    trigger = None
    if order_type is OrderType.LIMIT:
        rest = present(fields, ("triggerprice",)) + rest
    else:
        triggers = present(fields, TRIGGER_KEYS)
        trigger = agree(((f, _price(f)) for f in triggers), "trigger price", str)
    if order_type is OrderType.STOP_LIMIT and None not in (limit, trigger) and limit != trigger:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"stop_limit with limit {limit} and trigger {trigger}: expected one price (alerts "
            "place a stop_limit with the limit at the trigger)",
        )
    if order_type is OrderType.STOP and None not in (limit, trigger) and limit != trigger:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"a stop order with the price {limit} and the trigger {trigger}: expected one "
            "trigger price (or order_type stop_limit)",
        )
    price = limit if limit is not None else trigger
    if price is None:
        what = "limit price" if order_type is OrderType.LIMIT else "trigger price"
        raise Reject(
            AlertReason.BAD_VALUE,
            f"order_type {order_type.value.lower()} needs a {what}: expected a field price (or "
            f"{'limit_price' if order_type is OrderType.LIMIT else 'stop_price'})",
        )
    return price, _signal(first + rest)


def _signal(candidates: list[Field]) -> Decimal | None:
    prices = [_price(f) for f in candidates if not is_sentinel(f.value)]
    return prices[0] if prices else None
