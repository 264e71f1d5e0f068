"""The live stream: engine, alert and market events as JSON messages with a topic, fanned out
to subscribers (the WebSocket clients of ``/api/v1/stream``).

Publishing never waits: every subscriber has a bounded queue, and one that falls behind by more
than its queue holds is dropped (told so once, then closed by its connection). A slow client
can lose its stream; it never stalls the engine.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from algodesk.domain.events import OrderDenied, OrderEvent, OrderFilled
from algodesk.ports.inbox import InboxEntry
from algodesk.ports.storage import JournalRecord
from algodesk.services.outcomes import event_payload

__all__ = ["TOPICS", "EventHub", "Subscription", "message_for"]

_log = logging.getLogger("algodesk.stream")

TOPICS = frozenset({"orders", "fills", "positions", "pnl", "alerts", "risk", "market"})
_RISK_RECORDS = frozenset(
    {"BreakerTripped", "BreakerReset", "TradingStateSet", "KillSwitch", "ExitFired", "ExitDenied"}
)


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def message_for(item: object) -> dict[str, Any] | None:
    """The stream message for an engine, alert or market item (None: not streamed)."""
    if isinstance(item, OrderEvent):
        data = event_payload(item)
        data["ts"] = _iso(item.ts)
        if isinstance(item, OrderFilled):
            fill = item.fill
            data.update(
                account=fill.account_id.value,
                instrument=fill.instrument_id.value,
                side=fill.side.value,
                bot=fill.bot_id.value if fill.bot_id else None,
            )
            return {"topic": "fills", "type": "OrderFilled", "data": data}
        topic = "risk" if isinstance(item, OrderDenied) else "orders"
        return {"topic": topic, "type": type(item).__name__, "data": data}
    if isinstance(item, JournalRecord):
        if item.kind not in _RISK_RECORDS:
            return None
        data = {"account": item.account_id.value, "ts": _iso(item.ts), **item.payload}
        return {"topic": "risk", "type": item.kind, "data": data}
    if isinstance(item, InboxEntry):
        data = {
            "alert_id": item.id,
            "bot": item.bot_id.value,
            "status": item.status.value,
            "reason": item.reason,
            "message": item.message,
            "fate": dict(item.fate),
        }
        return {"topic": "alerts", "type": "AlertSettled", "data": data}
    if isinstance(item, dict) and item.get("topic") in TOPICS:
        return item
    return None


@dataclass(eq=False)
class Subscription:
    topics: frozenset[str]
    deliver: Callable[[dict[str, Any] | None], bool]
    dropped: bool = False


class EventHub:
    """Thread-safe fan-out; ``deliver`` must not block (it enqueues, returns False if full)."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self.published = 0

    def subscribe(
        self, topics: frozenset[str], deliver: Callable[[dict[str, Any] | None], bool]
    ) -> Subscription:
        unknown = topics - TOPICS
        if unknown:
            raise ValueError(f"unknown topics {sorted(unknown)}; expected some of {sorted(TOPICS)}")
        sub = Subscription(topics or TOPICS, deliver)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, item: object) -> None:
        message = message_for(item)
        if message is None:
            return
        self.published += 1
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.dropped or message["topic"] not in sub.topics:
                continue
            try:
                ok = sub.deliver(message)
            except Exception:
                _log.exception("stream subscriber failed")
                ok = False
            if not ok:  # too slow: cut it loose, tell it once
                sub.dropped = True
                self.unsubscribe(sub)
                with contextlib.suppress(Exception):  # a dead client needs no word
                    sub.deliver(None)

    def wants(self, topic: str) -> bool:
        """True when some subscriber takes ``topic`` (so that it is worth computing)."""
        with self._lock:
            return any(topic in s.topics for s in self._subs)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)
