"""How a dialect says no: raise :class:`Reject`; the parser turns it into an AlertRejection.

Also the one way messages quote what was found (:func:`show`), so a message never carries a
control character or an unbounded piece of the body.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TypeAlias

from algodesk.domain.signals import AlertReason

__all__ = ["JsonValue", "Reject", "show", "show_value"]

#: A value as the dialects hand it on: JSON numbers are Decimal, text dialects give strings.
JsonValue: TypeAlias = str | Decimal | bool | list["JsonValue"] | dict[str, "JsonValue"] | None


class Reject(Exception):
    """The body cannot be read with certainty: ``reason`` is the stable code."""

    def __init__(
        self,
        reason: AlertReason,
        message: str,
        secret: str | None = None,
        *,
        secret_read: bool = False,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.secret = secret  # the body secret, when it was read before the refusal
        self.secret_read = secret_read  # the body was read as far as its secret


def show(text: str, limit: int = 40) -> str:
    """``text`` in double quotes, escaped (ASCII only), cut to ``limit`` characters."""
    if len(text) <= limit:
        return json.dumps(text)
    return json.dumps(text[: limit - 1])[:-1] + '..."'


def show_value(value: JsonValue) -> str:
    """A value found in the body, for a message: strings quoted, the rest as JSON shows them."""
    if isinstance(value, str):
        return show(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return show(str(value), 24)[1:-1]
    return "a list" if isinstance(value, list) else "an object"
