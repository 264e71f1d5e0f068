"""Checks on configured numbers, shared by the fee, slippage and fill models."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["require_non_negative", "require_probability"]

_ONE = Decimal(1)


def require_non_negative(owner: str, name: str, value: object) -> Decimal:
    """Return ``value`` if it is a finite Decimal >= 0; floats and other types are refused.

    Raises:
        TypeError: ``value`` is not a Decimal.
        ValueError: ``value`` is negative or not finite.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"{owner}.{name}: expected a Decimal, was {type(value).__name__} {value!r}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{owner}.{name}: expected a finite Decimal >= 0, was {value}")
    return value


def require_probability(owner: str, name: str, value: object) -> Decimal:
    """Return ``value`` if it is a Decimal between 0 and 1 inclusive.

    Raises:
        TypeError: ``value`` is not a Decimal.
        ValueError: ``value`` is outside [0, 1].
    """
    checked = require_non_negative(owner, name, value)
    if checked > _ONE:
        raise ValueError(f"{owner}.{name}: expected a probability in [0, 1], was {checked}")
    return checked
