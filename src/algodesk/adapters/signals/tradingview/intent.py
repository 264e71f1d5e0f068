"""One alert's fields → one :class:`Intent`: the field interpretation every dialect shares.

Read in this order, so the first problem found is the one reported: action, symbol, size,
order type and prices, exits, bots, ``reduce_only``.

* **Action**: ``action`` ``side`` ``direction`` ``signal`` ``transaction_type``
  ``order_action`` ``strategy.order.action``, and ``type`` when its value is an action word.
  Several must agree (AMBIGUOUS). An unknown word is UNKNOWN_ACTION; empty or ``na`` is
  BAD_VALUE. Without one the alert is NO_INSTRUCTION, unless it names a target position: then
  the action is BUY (target > 0), SELL (< 0) or CLOSE (0). TradersPost's ``sentiment``
  ``flat`` turns buy or sell into CLOSE (an exit); other sentiments are ignored.
* **Symbol**: ``symbol`` ``ticker`` ``instrument`` ``pair`` ``tradingsymbol``
  ``tv_instrument`` ``sy`` ``stock_code``, kept as written (stripped: ``BTCUSDT.P``, ``NQ1!``,
  ``NSE:NIFTY``). Options: ``underlying`` + ``expiry`` + ``offset`` + ``option_type`` (or
  ``right``) become ``UNDERLYING:EXPIRY:OFFSET:RIGHT``, e.g. ``NIFTY:nearest:OTM2:CE``
  (OFFSET ``ATM`` / ``ITMn`` / ``OTMn`` and RIGHT ``CE`` / ``PE`` upper-cased; ``call`` and
  ``put`` accepted); the alert service resolves it. BUY, SELL, CLOSE and REVERSE need a
  symbol (MISSING_SYMBOL); CANCEL and FLATTEN without one address the whole bot.
* **Order type**: ``order_type`` / ``orderType`` / ``price_type`` (or ``type``): market
  (default), limit, stop, stop_limit.
* **Prices**: limit price, trigger and signal price by order type (:mod:`.prices`).
* **Bots**: ``bot`` / ``bots``: a name, a list of names, or names separated by ``,`` or spaces.
* ``reduce_only``: true / false (also as strings); true only with close, flatten or cancel.
"""

from __future__ import annotations

import re
from typing import Final

from algodesk.adapters.signals.tradingview.errors import Reject, show, show_value
from algodesk.adapters.signals.tradingview.fields import Field, Fields, agree, present, word
from algodesk.adapters.signals.tradingview.levels import read_exits
from algodesk.adapters.signals.tradingview.numbers import is_sentinel
from algodesk.adapters.signals.tradingview.prices import read_order_type, read_prices
from algodesk.adapters.signals.tradingview.sizing import has_target, read_size
from algodesk.adapters.signals.tradingview.vocabulary import (
    ACTION_KEYS,
    ACTIONS,
    BOT_KEYS,
    DIRECTED,
    EXPIRY_KEYS,
    OFFSET_KEYS,
    REDUCE_ONLY_KEYS,
    RIGHT_KEYS,
    SENTIMENT_KEY,
    SYMBOL_KEYS,
    TYPE_KEY,
    UNDERLYING_KEY,
    normalise_word,
)
from algodesk.domain.orders import OrderType
from algodesk.domain.signals import AlertAction, AlertReason, Intent, PositionSide, SizeUnit

__all__ = ["read_intent"]

_ACTION_WORDS = "buy, sell, close, flatten, reverse or cancel (or long, short, exit, ...)"
_NEEDS_SYMBOL: Final = frozenset(
    {AlertAction.BUY, AlertAction.SELL, AlertAction.CLOSE, AlertAction.REVERSE}
)
_BAD_TEXT: Final = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_OFFSET: Final = re.compile(r"ATM|[IO]TM[0-9]{1,2}")
_RIGHTS: Final = {"ce": "CE", "call": "CE", "c": "CE", "pe": "PE", "put": "PE", "p": "PE"}
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


def read_intent(fields: Fields) -> Intent:
    said = _action(fields)
    action, position_side = (None, None) if said is None else said
    if action is None and not has_target(fields):
        names = ", ".join(show(f.key) for f in list(fields.values())[:8])
        raise Reject(
            AlertReason.NO_INSTRUCTION,
            f"no action: expected a field action (or side, signal, ...) with {_ACTION_WORDS}; "
            f"found {'the fields ' + names if names else 'no fields'}",
        )
    symbol = _symbol(fields)
    size = read_size(fields)
    if action is None:
        assert size is not None  # has_target() found a target field
        action = (
            AlertAction.BUY
            if size.value > 0
            else AlertAction.SELL
            if size.value < 0
            else AlertAction.CLOSE
        )
    elif (
        action is AlertAction.CLOSE
        and size is not None
        and size.unit is SizeUnit.TARGET
        and size.value != 0
    ):
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"action close with a target position of {size.value}: expected a target of 0",
        )
    if symbol is None and action in _NEEDS_SYMBOL:
        raise Reject(
            AlertReason.MISSING_SYMBOL,
            f"action {action.value} needs a symbol: expected a field symbol (or ticker, "
            "instrument, pair, ...)",
        )
    order_type = read_order_type(fields)
    price, signal_price = read_prices(fields, order_type)
    stop, take, trail = read_exits(
        fields, stop_price_is_stop_loss=order_type in (OrderType.MARKET, OrderType.LIMIT)
    )
    _reduce_only(fields, action)
    return Intent(
        action=action,
        symbol=symbol,
        size=size,
        order_type=order_type,
        price=price,
        signal_price=signal_price,
        stop_loss=stop,
        take_profit=take,
        trailing=trail,
        bots=_bots(fields),
        position_side=position_side,
    )


_Action = tuple[AlertAction, PositionSide | None]


def _named(action: _Action) -> str:
    return action[0].value + (f" ({action[1].value} only)" if action[1] else "")


def _action(fields: Fields) -> _Action | None:
    """The action, and for one named for a side (exit_long) the position it is for."""
    found: list[tuple[Field, _Action]] = []
    for field in present(fields, ACTION_KEYS):
        said = word(field, _ACTION_WORDS)
        action = ACTIONS.get(said)
        if action is None:
            raise Reject(
                AlertReason.UNKNOWN_ACTION,
                f"{show(field.key)} {show_value(field.value)}: expected {_ACTION_WORDS}",
            )
        found.append((field, (action, _side(said))))
    typed = fields.get(TYPE_KEY)
    if typed is not None and isinstance(typed.value, str):
        said = normalise_word(typed.value)
        action = ACTIONS.get(said)
        if action is not None:
            found.append((typed, (action, _side(said))))
    agreed = agree(found, "action", _named)
    sentiment = fields.get(SENTIMENT_KEY)
    if (
        agreed is not None
        and agreed[0] in (AlertAction.BUY, AlertAction.SELL)
        and sentiment is not None
        and isinstance(sentiment.value, str)
        and normalise_word(sentiment.value) == "flat"
    ):
        # TradersPost: buy/sell with sentiment flat exits (a sell exits a long)
        side = PositionSide.LONG if agreed[0] is AlertAction.SELL else PositionSide.SHORT
        return AlertAction.CLOSE, side
    return agreed


def _side(said: str) -> PositionSide | None:
    side = DIRECTED.get(said)
    return None if side is None else PositionSide(side)


def _text(field: Field, what: str) -> str:
    if is_sentinel(field.value) or not isinstance(field.value, str):
        raise Reject(
            AlertReason.BAD_VALUE, f"{show(field.key)} {show_value(field.value)}: expected {what}"
        )
    text = field.value.strip()
    if _BAD_TEXT.search(text):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {what}, found control "
            "characters",
        )
    return text


def _symbol(fields: Fields) -> str | None:
    found = [(f, _text(f, "a symbol like AAPL or NSE:NIFTY")) for f in present(fields, SYMBOL_KEYS)]
    symbol = agree(found, "symbol")
    underlying = fields.get(UNDERLYING_KEY)
    if underlying is None:
        return symbol
    if symbol is not None:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"both {show(found[0][0].key)} and {show(underlying.key)}: expected a symbol or an "
            "option (underlying, expiry, offset, option_type), not both",
        )
    parts = [_text(underlying, "an underlying like NIFTY")]
    for names, what in (
        (EXPIRY_KEYS, "expiry"),
        (OFFSET_KEYS, "offset"),
        (RIGHT_KEYS, "option_type"),
    ):
        given = present(fields, names)
        if not given:
            raise Reject(
                AlertReason.BAD_VALUE,
                f"an option on {show(parts[0])} without {what}: expected underlying, expiry, "
                "offset (ATM, ITM1, OTM2...) and option_type (CE or PE)",
            )
        parts.append(agree(((f, _text(f, what)) for f in given), what) or "")
    offset, right = parts[2].upper(), _RIGHTS.get(parts[3].lower())
    if not _OFFSET.fullmatch(offset) or right is None:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"option offset {show(parts[2])} / type {show(parts[3])}: expected an offset ATM, "
            "ITMn or OTMn and an option_type CE or PE",
        )
    for part in parts[:2]:
        if ":" in part or not part or len(part.split()) > 1:
            raise Reject(
                AlertReason.BAD_VALUE,
                f"option part {show(part)}: expected no spaces and no ':'",
            )
    return f"{parts[0]}:{parts[1]}:{offset}:{right}"


def _bots(fields: Fields) -> tuple[str, ...]:
    names: list[str] = []
    for field in present(fields, BOT_KEYS):
        values = field.value if isinstance(field.value, list) else [field.value]
        for value in values:
            if not isinstance(value, str) or is_sentinel(value):
                raise Reject(
                    AlertReason.BAD_VALUE,
                    f"{show(field.key)} {show_value(value)}: expected a bot name or a list of "
                    "names",
                )
            names.extend(re.split(r"[\s,]+", _text(Field(field.key, value), "bot names")))
    return tuple(dict.fromkeys(n for n in names if n))


def _reduce_only(fields: Fields, action: AlertAction) -> None:
    for field in present(fields, REDUCE_ONLY_KEYS):
        value = field.value
        word = value.strip().lower() if isinstance(value, str) else None
        if value is True or word in _TRUE:
            if action in (AlertAction.BUY, AlertAction.SELL, AlertAction.REVERSE):
                raise Reject(
                    AlertReason.BAD_VALUE,
                    f"{show(field.key)} true with action {action.value}: reduce-only entries are "
                    "not supported; expected action close (with a quantity for a partial close)",
                )
        elif not (value is False or word in _FALSE):
            raise Reject(
                AlertReason.BAD_VALUE,
                f"{show(field.key)} {show_value(value)}: expected true or false",
            )
