"""Numbers in alerts: strict decimal text, an optional ``%``, sentinels, and nothing else.

TradingView substitutes placeholders as plain text, so numbers arrive as JSON numbers or as
strings (``"0.5"``). Accepted: ``10``, ``-2``, ``+3``, ``0.5``, ``.5``, ``187.``, and with a
trailing percent sign ``5%`` / ``5 %``. Refused with BAD_VALUE: thousands separators
(``1,234.5``), exponents (``1e5``), anything that is not a number. Refused with UNKNOWN_UNITS:
a number with any other prefix or suffix (``%5``, ``$20``, ``3x``, ``20 usd``, ``50pips``): the
parser never guesses a unit. Only ASCII digits count.

Sentinels (``""``, ``na``, ``n/a``, ``NaN``, ``None``, ``null``, JSON ``null``) are what an
unset Pine value renders as; :func:`is_sentinel` lets each field decide what they mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from algodesk.adapters.signals.tradingview.errors import JsonValue, Reject, show, show_value
from algodesk.domain.signals import AlertReason

__all__ = ["SENTINELS", "Amount", "is_sentinel", "parse_amount"]

SENTINELS: Final = frozenset({"", "na", "n/a", "nan", "none", "null"})

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_PLAIN: Final = re.compile(rf"(?P<n>{_NUMBER})(?P<pct>\s*%)?")
_THOUSANDS: Final = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?\s*%?")
_EXPONENT: Final = re.compile(rf"{_NUMBER}[eE][+-]?[0-9]+\s*%?")
_DECORATED: Final = re.compile(rf"(?P<pre>[^0-9.+\-]*?)\s*{_NUMBER}\s*(?P<post>[^0-9.]*)")


def is_sentinel(value: JsonValue) -> bool:
    """JSON ``null`` or a string Pine renders for "no value"."""
    return value is None or (isinstance(value, str) and value.strip().lower() in SENTINELS)


@dataclass(frozen=True, slots=True)
class Amount:
    """A number as written: ``percent`` when it carried a trailing ``%``."""

    value: Decimal
    percent: bool = False


def parse_amount(value: JsonValue, key: str, expected: str) -> Amount:
    """The number in ``value`` (a JSON number or text), or :class:`Reject`.

    ``key`` and ``expected`` make the message: ``qty "5x": expected <expected>``. Sentinels
    are not handled here: the caller decides whether the field may be absent.
    """
    if isinstance(value, Decimal):  # JSON numbers (bool is not a Decimal)
        return Amount(value)
    if not isinstance(value, str):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{key} {show_value(value)}: expected {expected}, found {_kind(value)}",
        )
    text = value.strip()
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        return Amount(Decimal(plain["n"]), percent=plain["pct"] is not None)
    if _THOUSANDS.fullmatch(text):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{key} {show(text)}: expected {expected}; thousands separators are not accepted "
            "(write 1234.5, not 1,234.5)",
        )
    if _EXPONENT.fullmatch(text):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{key} {show(text)}: expected {expected}; exponent notation is not accepted",
        )
    decorated = _DECORATED.fullmatch(text)
    if decorated is not None and (decorated["pre"] or decorated["post"]):
        unit = decorated["pre"] + decorated["post"]
        why = (
            "a percent sign goes after the number"
            if decorated["pre"] == "%"
            else f"the parser knows no unit {show(unit)} (it never guesses)"
        )
        raise Reject(AlertReason.UNKNOWN_UNITS, f"{key} {show(text)}: expected {expected}; {why}")
    raise Reject(AlertReason.BAD_VALUE, f"{key} {show(text)}: expected {expected}")


def _kind(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"
