"""Strict JSON: a body that starts with ``{`` or ``[`` is JSON or it is refused, never repaired.

Parsed with :func:`json.loads` told to be strict: numbers become :class:`~decimal.Decimal`
(exactly as written), ``NaN`` / ``Infinity`` / ``-Infinity`` are INVALID_JSON, a number in
exponent notation is BAD_VALUE, and an object with a repeated key is AMBIGUOUS. A syntax error
is INVALID_JSON with the line, the column, the token found there and, where it helps, the
likely cause (an unquoted placeholder, a ``//`` comment, single quotes, a trailing comma).

The top level is one object (one intent) or a list of objects (several intents, in order).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Final, cast

from algodesk.adapters.signals.tradingview.errors import JsonValue, Reject, show
from algodesk.adapters.signals.tradingview.redact import inside, secret_spans
from algodesk.domain.signals import AlertReason

__all__ = ["load_objects"]


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _Constant(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


class _Exponent(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


def _object(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _constant(token: str) -> JsonValue:
    raise _Constant(token)


def _float(text: str) -> Decimal:
    if "e" in text or "E" in text:
        raise _Exponent(text)
    return Decimal(text)


def _load(text: str, secret_field: str) -> JsonValue:
    try:
        return cast(
            JsonValue,
            json.loads(
                text,
                object_pairs_hook=_object,
                parse_float=_float,
                parse_int=Decimal,
                parse_constant=_constant,
            ),
        )
    except json.JSONDecodeError as exc:
        raise Reject(AlertReason.INVALID_JSON, _syntax(exc, secret_field)) from None
    except RecursionError:
        raise Reject(AlertReason.INVALID_JSON, "invalid JSON: nested too deeply") from None
    except _Duplicate as exc:
        key = show(exc.key)
        raise Reject(
            AlertReason.AMBIGUOUS, f"the key {key} appears twice in one object: expected it once"
        ) from None
    except _Constant as exc:
        raise Reject(
            AlertReason.INVALID_JSON,
            f"invalid JSON{_where(text, exc.token)}: {exc.token} is not a JSON value; expected "
            "a number (an unset Pine value renders as NaN: check the script)",
        ) from None
    except _Exponent as exc:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"the number {show(exc.text)}: exponent notation is not accepted; expected plain "
            "decimals like 0.00012",
        ) from None


def _where(text: str, token: str) -> str:
    found = re.search(rf"(?<![\w\"]){re.escape(token)}(?![\w\"])", text)
    if found is None:
        return ""
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return f" at line {line}, column {column}"


_TOKEN: Final = re.compile(r"//|/\*|[A-Za-z_][\w.\-]*|\S{1,20}")


def _syntax(exc: json.JSONDecodeError, secret_field: str) -> str:
    where = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    found = _TOKEN.match(exc.doc, exc.pos)
    if found is None:
        return f"{where}; found the end of the body"
    token = found.group()
    if inside(secret_spans(exc.doc, secret_field), exc.pos, found.end()):
        return f"{where}; found a broken secret value (not shown)"
    return f"{where}; found {show(token)}{_hint(token, exc.msg)}"


def _hint(token: str, msg: str) -> str:
    if token in ("//", "/*"):
        return " (comments are not allowed in JSON)"
    if token.startswith("'"):
        return " (JSON strings need double quotes)"
    if token[0].isalpha() or token[0] == "_":
        return (
            " (unquoted text: keys and strings need double quotes, also a placeholder that"
            ' renders text, as in "pos": "{{strategy.market_position}}")'
        )
    if msg.startswith("Extra data"):
        return " (one JSON value per body: put several objects in a list [...])"
    if token[0] in "}]" and ("property name" in msg or "Expecting value" in msg):
        return " (a trailing comma?)"
    return ""


def load_objects(text: str, secret_field: str) -> list[dict[str, JsonValue]]:
    """The object(s) of a JSON body: one object, or the objects of a non-empty list."""
    data = _load(text, secret_field)
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):  # a body starting with { or [ is an object or a list
        raise Reject(AlertReason.INVALID_JSON, "invalid JSON: expected an object or a list")
    if not data:
        raise Reject(AlertReason.NO_INSTRUCTION, "an empty list: no instruction, not an order")
    objects: list[dict[str, JsonValue]] = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            kind = "a list" if isinstance(item, list) else "a single value"
            raise Reject(
                AlertReason.BAD_VALUE, f"item {n} of the list: expected an object, found {kind}"
            )
        objects.append(item)
    return objects
