"""What an alert says about itself rather than about an order: its secret and firing time.

The secret is the hook's ``secret_field`` (any spelling of the name: ``Secret``,
``SECRET``); it is taken out before the instructions are read. Fields with other known
secret names (``key``, ``passphrase``, ``token``, ``apikey``...) are dropped unread.

The firing time is ``timenow`` (also ``time_now``, ``timestamp``) in TradingView's format
``2026-11-21T09:15:00Z`` (a ``+05:30`` offset and up to 6 decimals of a second are accepted),
returned in UTC. ``time`` is the bar's open time and is not read. An empty or ``na`` firing
time counts as absent; anything else unreadable is BAD_VALUE.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from algodesk.adapters.signals.tradingview.errors import Reject, show, show_value
from algodesk.adapters.signals.tradingview.fields import Field, Fields, agree
from algodesk.adapters.signals.tradingview.numbers import is_sentinel
from algodesk.adapters.signals.tradingview.vocabulary import (
    TIMENOW_KEYS,
    is_secret_name,
    normalise_key,
)
from algodesk.domain.signals import AlertReason

__all__ = ["read_timenow", "take_secret"]

_ISO: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def take_secret(fields: Fields, secret_field: str) -> str | None:
    """Remove the secret field and every other secret-named field; return the secret."""
    field = fields.pop(normalise_key(secret_field), None)
    for norm in [n for n in fields if is_secret_name(n)]:
        del fields[norm]
    if field is None:
        return None
    if isinstance(field.value, str):
        return field.value
    if isinstance(field.value, Decimal):
        return str(field.value)
    kind = "a list or an object" if isinstance(field.value, list | dict) else "not a string"
    raise Reject(
        AlertReason.BAD_VALUE, f"{show(field.key)}: expected the secret as a string, found {kind}"
    )


def read_timenow(fields: Fields) -> datetime | None:
    found = []
    for name in TIMENOW_KEYS:
        field = fields.get(name)
        if field is not None and not is_sentinel(field.value):
            found.append((field, _timestamp(field)))
    return agree(found, "firing time", lambda t: t.isoformat())


def _timestamp(field: Field) -> datetime:
    text = field.value.strip() if isinstance(field.value, str) else ""
    if _ISO.fullmatch(text):
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise Reject(
        AlertReason.BAD_VALUE,
        f"{show(field.key)} {show_value(field.value)}: expected a UTC time like "
        "2026-11-21T09:15:00Z ({{timenow}})",
    )
