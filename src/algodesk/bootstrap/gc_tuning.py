"""The garbage collector's settings for a long-running desk process.

The engine makes many short-lived objects per order (orders, events, postings, Decimals) and
almost no reference cycles, so reference counting frees nearly all of them; Python's cyclic
collector, by default run every 700 allocations, mostly walks objects that live for the whole
process (the loaded ledger, the instrument master, the modules). It cost about a fifth of the
engine's time per order (``benchmarks/engine.py`` with the collector off).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

#: Allocations (net) between collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Call once start-up has loaded the desk: what exists now is moved out of the collector's
    sight (``gc.freeze``: it is never garbage, and each full collection would walk it again),
    and the youngest generation is collected less often. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
