"""The interpreter's settings for a long-running desk process: the garbage collector and how
often threads take turns.

**Collector.** The engine makes many short-lived objects per order (orders, events, postings,
Decimals) and almost no reference cycles, so reference counting frees nearly all of them;
Python's cyclic collector, by default run every 700 allocations, mostly walks objects that live
for the whole process (the loaded ledger, the instrument master, the modules). It cost about a
fifth of the engine's time per order (``benchmarks/engine.py`` with the collector off).

**Switch interval.** One thread runs Python at a time. A thread that has waited on the network
or the disk (the web server's loop, a webhook's commit) must then wait for the running thread
(the alert processor, a market feed) to hand over, which Python asks for after the switch
interval: 5 ms by default. A webhook's answer takes several such turns, so under load each one
waited up to 5 ms, several times. At 1 ms those waits are short; the extra handovers cost the
busy thread a little throughput. Measured with ``benchmarks/webhook.py`` at 100 alerts/s on
SQLite: answer p99 from 27 to 9-16 ms, alert to booked fill p99 from 660 to 40-90 ms.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["SWITCH_INTERVAL", "YOUNG_THRESHOLD", "tune_gc", "tune_switching"]

#: Allocations (net) between collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 20_000

#: Seconds a thread runs Python before it is asked to let a waiting one run (default 0.005).
SWITCH_INTERVAL = 0.001


def tune_gc() -> None:
    """Call once start-up has loaded the desk: what exists now is moved out of the collector's
    sight (``gc.freeze``: it is never garbage, and each full collection would walk it again),
    and the youngest generation is collected less often. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)


def tune_switching() -> None:
    """Let threads that waited on I/O (the web server answering TradingView) run sooner."""
    sys.setswitchinterval(SWITCH_INTERVAL)
