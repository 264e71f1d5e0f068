"""The size of an intent, from whichever size field the alert used.

=====================================  ============================================
field                                  size
=====================================  ============================================
``quantity`` ``qty`` ``contracts``     ``10`` → 10 UNITS; ``5%`` → 5 PERCENT_EQUITY
``size`` ``amount`` ``volume``
``order_size``
``strategy.order.contracts``
``risk`` ``risk_percent``              ``1`` or ``1%`` → 1 RISK_PERCENT
``position_size`` ``target_position``  ``-2`` → TARGET -2 (signed; 0 is flat)
``strategy.position_size``
=====================================  ============================================

A unit field (``quantity_type``, ``sizing``, ``unit``, 3Commas ``currency_type``, OKX
``investment_type``) sets the unit of the quantity fields: ``fixed_quantity`` / ``units`` /
``shares`` / ``contracts`` / ``base`` → UNITS, ``percent_of_equity`` / ``%equity`` / ``percent``
→ PERCENT_EQUITY, ``risk`` / ``risk_percent`` → RISK_PERCENT, ``target`` / ``position`` →
TARGET; any other unit (dollar amount, % of position, quote currency) is UNKNOWN_UNITS.
A ``%`` on a quantity whose unit field says units is AMBIGUOUS; a target or a
quantity whose unit field says target in ``%`` is UNKNOWN_UNITS.

Refused: ``lots`` and money sizes (``vol_dollar``, ``quote_qty``, ``notional``...) as
UNKNOWN_UNITS; ``%5``, ``$20``, ``3x``, ``20 usd`` as UNKNOWN_UNITS; zero or negative sizes
other than a target as BAD_VALUE; ``na`` / empty in a size field as BAD_VALUE (leave the field
out for the bot's default size); two size fields that disagree (``qty`` and ``risk``) as
AMBIGUOUS. No size field: ``None``, the bot's default applies.
"""

from __future__ import annotations

from decimal import Decimal

from algodesk.adapters.signals.tradingview.errors import Reject, show, show_value
from algodesk.adapters.signals.tradingview.fields import Field, Fields, agree
from algodesk.adapters.signals.tradingview.numbers import Amount, is_sentinel, parse_amount
from algodesk.adapters.signals.tradingview.vocabulary import (
    QUANTITY_KEYS,
    RISK_KEYS,
    SIZE_UNITS,
    TARGET_KEYS,
    UNIT_KEYS,
    UNSUPPORTED_SIZE_KEYS,
    normalise_word,
)
from algodesk.domain.signals import AlertReason, Size, SizeUnit

__all__ = ["has_target", "read_size"]

_QTY = 'a number of units like "10", or a percent of equity like "5%"'
_RISK = 'a percent of equity to risk, like "1" or "1%"'
_TARGET = 'a signed number of units, like "-2" (0 is flat)'
_UNITS = "fixed_quantity, units, percent_of_equity, risk_percent or target"


def has_target(fields: Fields) -> bool:
    """Whether the alert names a target position (and may so go without an action)."""
    if any(name in fields for name in TARGET_KEYS):
        return True
    unit = _unit(fields)
    return unit is SizeUnit.TARGET and any(name in fields for name in QUANTITY_KEYS)


def read_size(fields: Fields) -> Size | None:
    for name in UNSUPPORTED_SIZE_KEYS:
        field = fields.get(name)
        if field is not None:
            raise Reject(
                AlertReason.UNKNOWN_UNITS,
                f"{show(field.key)} {show_value(field.value)}: sizes in lots or in money are "
                f"not accepted; expected quantity with {_QTY}",
            )
    unit = _unit(fields)
    found: list[tuple[Field, Size]] = []
    for name in QUANTITY_KEYS:
        field = fields.get(name)
        if field is not None:
            found.append((field, _quantity(field, unit)))
    for name in RISK_KEYS:
        field = fields.get(name)
        if field is not None:
            found.append((field, _sized(field, SizeUnit.RISK_PERCENT, _RISK, percent_ok=True)))
    for name in TARGET_KEYS:
        field = fields.get(name)
        if field is not None:
            found.append((field, _sized(field, SizeUnit.TARGET, _TARGET, percent_ok=False)))
    return agree(found, "size", lambda s: f"{s.value} {s.unit.value}")


def _unit(fields: Fields) -> SizeUnit | None:
    found: list[tuple[Field, SizeUnit]] = []
    for name in UNIT_KEYS:
        field = fields.get(name)
        if field is None:
            continue
        word = normalise_word(field.value) if isinstance(field.value, str) else None
        unit = SIZE_UNITS.get(word) if word is not None else None
        if unit is None:
            reason = (
                AlertReason.BAD_VALUE if is_sentinel(field.value) else AlertReason.UNKNOWN_UNITS
            )
            raise Reject(
                reason,
                f"{show(field.key)} {show_value(field.value)}: expected {_UNITS}",
            )
        found.append((field, unit))
    return agree(found, "quantity unit", lambda u: u.value)


def _quantity(field: Field, unit: SizeUnit | None) -> Size:
    if unit is SizeUnit.TARGET:
        return _sized(field, SizeUnit.TARGET, _TARGET, percent_ok=False)
    if unit is SizeUnit.RISK_PERCENT:
        return _sized(field, SizeUnit.RISK_PERCENT, _RISK, percent_ok=True)
    if unit is SizeUnit.PERCENT_EQUITY:
        return _sized(field, SizeUnit.PERCENT_EQUITY, _QTY, percent_ok=True)
    amount = _amount(field, _QTY)
    if amount.percent and unit is SizeUnit.UNITS:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"{show(field.key)} {show_value(field.value)} is a percent but the quantity unit "
            "says units: expected one of them",
        )
    return _positive(
        field, amount.value, SizeUnit.PERCENT_EQUITY if amount.percent else SizeUnit.UNITS
    )


def _sized(field: Field, unit: SizeUnit, expected: str, *, percent_ok: bool) -> Size:
    amount = _amount(field, expected)
    if amount.percent and not percent_ok:
        raise Reject(
            AlertReason.UNKNOWN_UNITS,
            f"{show(field.key)} {show_value(field.value)}: expected {expected}, not a percent",
        )
    if unit is SizeUnit.TARGET:
        return Size(amount.value, unit)
    return _positive(field, amount.value, unit)


def _amount(field: Field, expected: str) -> Amount:
    if is_sentinel(field.value):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {expected} (leave the field "
            "out for the bot's default size)",
        )
    return parse_amount(field.value, show(field.key), expected)


def _positive(field: Field, value: Decimal, unit: SizeUnit) -> Size:
    if value <= 0:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected a size above zero",
        )
    return Size(value, unit)
