"""Draws from an injected, seeded :class:`random.Random`, compared without floats."""

from __future__ import annotations

import random
from decimal import Decimal

__all__ = ["chance"]

_BITS = 53
_SCALE = Decimal(2**_BITS)


def chance(rng: random.Random, probability: Decimal) -> bool:
    """True with ``probability``. Draws from ``rng`` only when 0 < probability < 1.

    The draw is a 53-bit integer compared with ``probability × 2**53``: exact, no float.
    """
    if probability <= 0:
        return False
    if probability >= 1:
        return True
    return Decimal(rng.getrandbits(_BITS)) < probability * _SCALE
