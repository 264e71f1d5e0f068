"""Exponential backoff with jitter, for reconnecting sockets and retrying polls.

The n-th delay (counting from 0) before jitter is ``min(cap, base * factor**n)``. Jitter spreads
clients that lost the same server at the same moment so they do not all come back at once:

* ``FULL``: a uniform draw in ``[0, delay]``; the widest spread, the shortest average wait.
* ``EQUAL``: ``delay / 2`` plus a uniform draw in ``[0, delay / 2]``; never less than half.
* ``NONE``: exactly ``delay``; for tests and for venues that publish their own retry schedule.

The random source is injectable: pass ``random.Random(seed)`` and the delays are reproducible.
:meth:`Backoff.reset` starts the schedule over; callers reset on the first real success (a good
message or a good poll), not merely on an open connection, so a server that accepts and then
drops at once keeps the delays growing.
"""

from __future__ import annotations

import random
from enum import StrEnum

__all__ = ["Backoff", "Jitter"]


class Jitter(StrEnum):
    """How a delay is randomised (see the module docstring)."""

    FULL = "FULL"
    EQUAL = "EQUAL"
    NONE = "NONE"


class Backoff:
    """A growing, capped, jittered delay schedule; ``next_delay()`` gives the next wait."""

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        *,
        factor: float = 2.0,
        jitter: Jitter = Jitter.FULL,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0:
            raise ValueError(f"Backoff: expected base > 0 seconds, was {base}")
        if cap < base:
            raise ValueError(f"Backoff: expected cap >= base ({base}), was {cap}")
        if factor < 1:
            raise ValueError(f"Backoff: expected factor >= 1, was {factor}")
        self.base = base
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        # Jitter only spreads retries; it protects nothing, so a non-cryptographic PRNG is right.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempts

    def ceiling(self) -> float:
        """The un-jittered delay the next call would draw from."""
        # Past the cap the exponent no longer matters; stop it growing into an overflow.
        exponent = min(self._attempts, 1024)
        try:
            raw = self.base * self.factor**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def next_delay(self) -> float:
        """The next wait in seconds; each call moves one step up the schedule."""
        ceiling = self.ceiling()
        self._attempts += 1
        if self.jitter is Jitter.FULL:
            return self._rng.uniform(0.0, ceiling)
        if self.jitter is Jitter.EQUAL:
            half = ceiling / 2
            return half + self._rng.uniform(0.0, half)
        return ceiling

    def reset(self) -> None:
        """Start again from ``base`` (call after a success)."""
        self._attempts = 0
