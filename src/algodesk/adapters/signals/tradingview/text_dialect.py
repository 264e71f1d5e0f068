"""The plain-text dialects, tried in this order on a body that is not JSON.

``keyvalue``
    ``KEY=VALUE`` entries, one per line or separated by ``;`` or ``,`` (OctoBot
    ``SYMBOL=BTCUSDT`` / ``SIGNAL=BUY`` / ``VOLUME=0.01`` lines; pinebridge
    ``signal=long,symbol=EURUSD,qty=1``). Chosen when the first entry is ``KEY=VALUE``; then
    every entry must be. Keys are the JSON field names; one pair of quotes around a value is
    dropped. A value cannot hold ``,`` or ``;`` (``bots=a b`` names two bots).
``pipe``
    One line, fields split by ``|``, fixed order ``SYMBOL|ACTION[|PRICE[|INTERVAL]]``: the
    template ``{{ticker}}|{{strategy.order.action}}|{{close}}|{{interval}}``. PRICE is a signal
    price (``na`` / empty: none); INTERVAL is ignored.
``csv``
    One line, fields split by ``,``: ``ACTION,SYMBOL[,QUANTITY[,PRICE]]`` or
    ``SYMBOL,ACTION[,QUANTITY]``. Of the first two fields exactly one must be an action word.
    Both (``S,buy``) is AMBIGUOUS; neither is free text. With the symbol first a fourth field
    is AMBIGUOUS: bots in the wild put the price before the quantity there.
``words``
    One line of one to three words ``ACTION [SYMBOL [QUANTITY]]``: ``BUY BTCUSDT 0.01``.

Anything else (``EURUSD Less Than 1.06304``, ``Crossing 1.2``, the default strategy message
``buy @ 1 filled on AAPL...``) is NO_INSTRUCTION: free text, not an order. In the positional
dialects a number where the symbol goes is AMBIGUOUS.
"""

from __future__ import annotations

import re
from typing import Final

from algodesk.adapters.signals.tradingview.errors import Reject, show
from algodesk.adapters.signals.tradingview.fields import Field, Fields, from_pairs
from algodesk.adapters.signals.tradingview.numbers import is_sentinel
from algodesk.adapters.signals.tradingview.vocabulary import (
    ACTIONS,
    is_secret_name,
    normalise_key,
    normalise_word,
)
from algodesk.domain.signals import AlertReason

__all__ = ["FORMS", "read_text"]

#: The positional forms, for messages.
FORMS: Final = {
    "pipe": "SYMBOL|ACTION[|PRICE[|INTERVAL]]",
    "csv": "ACTION,SYMBOL[,QUANTITY[,PRICE]] or SYMBOL,ACTION[,QUANTITY]",
    "words": "ACTION [SYMBOL [QUANTITY]]",
}

_ENTRY_SPLIT: Final = re.compile(r"[\n;,]")
_ENTRY: Final = re.compile(r"\s*(?P<key>[A-Za-z_][\w.\-]*)\s*=(?P<value>.*)", re.DOTALL)
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def read_text(text: str) -> tuple[str, Fields]:
    """The dialect and the fields of a non-JSON body (already stripped, not empty)."""
    entries = [e for e in _ENTRY_SPLIT.split(text) if e.strip()]
    if entries and _ENTRY.fullmatch(entries[0]):
        return "keyvalue", _keyvalue(entries)
    if "\n" not in text:
        if "|" in text:
            return "pipe", _pipe([f.strip() for f in text.split("|")])
        if "," in text:
            return "csv", _csv([f.strip() for f in text.split(",")], text)
        words = text.split()
        if len(words) <= 3 and _is_action(words[0]):
            return "words", _positional(words, ("action", "symbol", "quantity"), "words")
    raise Reject(AlertReason.NO_INSTRUCTION, _free_text(text))


def _keyvalue(entries: list[str]) -> Fields:
    pairs: list[tuple[str, str]] = []
    after_secret = False
    for entry in entries:
        m = _ENTRY.fullmatch(entry)
        if m is None:
            shown = "(not shown: does the secret hold a , or ;?)" if after_secret else show(entry)
            raise Reject(
                AlertReason.BAD_VALUE,
                f"expected KEY=VALUE entries separated by new lines, ; or , (no thousands "
                f"separators), found {shown}",
            )
        key, value = m["key"], m["value"].strip()
        after_secret = is_secret_name(normalise_key(key))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((key, value))
    return from_pairs(pairs)


def _is_action(word: str) -> bool:
    return normalise_word(word) in ACTIONS


def _pipe(parts: list[str]) -> Fields:
    if len(parts) > 4:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"{len(parts)} fields separated by |: expected at most 4, {FORMS['pipe']}",
        )
    return _positional(parts, ("symbol", "action", "signalprice", "interval"), "pipe")


def _csv(parts: list[str], text: str) -> Fields:
    for part in parts:
        if "=" in part:
            raise Reject(
                AlertReason.BAD_VALUE,
                f"{show(part)} in a comma-separated body: expected KEY=VALUE entries "
                f"throughout or positional fields {FORMS['csv']}",
            )
    first, second = _is_action(parts[0]), _is_action(parts[1])
    if first and second:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"both {show(parts[0])} and {show(parts[1])} are action words: expected one action "
            "and one symbol (use KEY=VALUE or JSON for the tickers B and S)",
        )
    if not (first or second):
        raise Reject(AlertReason.NO_INSTRUCTION, _free_text(text))
    if first:
        if len(parts) > 4:
            raise Reject(
                AlertReason.AMBIGUOUS,
                f"{len(parts)} comma-separated fields: expected at most 4, {FORMS['csv']}",
            )
        return _positional(parts, ("action", "symbol", "quantity", "price"), "csv")
    if len(parts) > 3:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"{len(parts)} comma-separated fields starting with the symbol: price,quantity or "
            "quantity,price cannot be told apart; expected ACTION,SYMBOL,QUANTITY,PRICE",
        )
    return _positional(parts, ("symbol", "action", "quantity"), "csv")


def _positional(parts: list[str], names: tuple[str, ...], dialect: str) -> Fields:
    fields: Fields = {}
    for n, (name, value) in enumerate(zip(names, parts, strict=False), 1):
        if name == "interval":
            continue
        if name == "symbol" and _NUMBER.fullmatch(value):
            raise Reject(
                AlertReason.AMBIGUOUS,
                f"field {n} {show(value)} is a number where the symbol goes: expected "
                f"{FORMS[dialect]}",
            )
        if name == "symbol" and not is_sentinel(value) and len(value.split()) > 1:
            raise Reject(
                AlertReason.BAD_VALUE,
                f"field {n} {show(value)}: expected a symbol without spaces, {FORMS[dialect]}",
            )
        fields[name] = Field(f"field {n} ({name.replace('signal', '')})", value)
    return fields


def _free_text(text: str) -> str:
    words = text.split()
    lead = (
        f"; it starts with the action {show(words[0])} but the words form is {FORMS['words']}"
        if words and _is_action(words[0])
        else ""
    )
    return (
        f"free text, not an order: {show(text)}{lead}; expected JSON, KEY=VALUE entries or "
        f"{FORMS['csv']}"
    )
