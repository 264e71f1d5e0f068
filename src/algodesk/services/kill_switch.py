"""The kill switch: one command that halts every account and flattens everything."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from algodesk.domain.commands import Flatten, SetTradingState
from algodesk.domain.risk.base import TradingState
from algodesk.ports.clock import Clock
from algodesk.ports.storage import JournalRecord, UnitOfWork
from algodesk.services.engine import Engine
from algodesk.services.outcomes import Outcome

__all__ = ["pull_kill_switch"]

_log = logging.getLogger(__name__)


def pull_kill_switch(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    by: str,
    reason: str,
    publish: Callable[[JournalRecord], None] | None = None,
) -> Outcome:
    """Halt every configured account and flatten everything. Never gated, never waits on a
    venue (put a :class:`~algodesk.services.venue_guard.GuardedBroker` in front of real ones):
    requests a venue cannot take now stay in flight for reconciliation. Journaled per account
    with who pulled it and why; each account's record goes to ``publish`` once stored (the
    live stream's risk topic). A failing ``publish`` is logged and stops nothing."""
    if not by.strip() or not reason.strip():
        return Outcome(
            False, None, None, "REASON_REQUIRED", "say who pulls the kill switch and why"
        )
    stamp = uuid.uuid4().hex
    messages = []
    for account in engine.accounts:
        text = f"kill switch by {by}: {reason}"
        engine.handle(SetTradingState(account_id=account, state=TradingState.HALTED, reason=text))
        done = engine.handle(Flatten(account_id=account, idempotency_key=f"kill:{stamp}"))
        with uow_factory() as uow:
            payload = {"by": by, "reason": reason, "result": done.message}
            record = JournalRecord(account, "KillSwitch", clock.now(), payload)
            uow.journal.append(record)
            uow.commit()
        if publish is not None:
            try:
                publish(record)
            except Exception:
                _log.exception("the kill switch's record for %s could not be published", account)
        messages.append(f"{account}: {done.message}")
    return Outcome(True, None, TradingState.HALTED.value, None, "; ".join(messages))
