"""The kill switch: one command that halts every account and flattens everything."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from algodesk.domain.commands import Flatten, SetTradingState
from algodesk.domain.identifiers import AccountId
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
    """Halt every configured account, then flatten everything. Never gated, never waits on a
    venue (put a :class:`~algodesk.services.venue_guard.GuardedBroker` in front of real ones):
    a cancel or close its guard refuses while the venue is down is kept and sent once it
    answers (:mod:`~algodesk.services.unsent`); one whose outcome is unknown stays in flight.
    Every account is
    halted before any is flattened, and a step that fails for one account (a write refused, a
    full disk) is logged and reported, never stops the steps for the others: the outcome is
    then not ok (``KILL_SWITCH_INCOMPLETE``) and says what failed. Journaled per account with
    who pulled it and why; each account's record goes to ``publish`` once stored (the live
    stream's risk topic). A failing ``publish`` is logged and stops nothing."""
    if not by.strip() or not reason.strip():
        return Outcome(
            False, None, None, "REASON_REQUIRED", "say who pulls the kill switch and why"
        )
    stamp = uuid.uuid4().hex
    accounts = list(engine.accounts)
    text = f"kill switch by {by}: {reason}"
    failed: dict[AccountId, str] = {}
    for account in accounts:
        halt = SetTradingState(account_id=account, state=TradingState.HALTED, reason=text)
        _attempt(failed, account, "halt", partial(engine.handle, halt))
    messages = []
    for account in accounts:
        flatten = Flatten(account_id=account, idempotency_key=f"kill:{stamp}")
        done = _attempt(failed, account, "flatten", partial(engine.handle, flatten))
        result = done.message if done is not None else f"failed: {failed[account]}"
        payload = {"by": by, "reason": reason, "result": result}
        if account in failed:  # a halt that failed too (the flatten may have gone)
            payload["failed"] = failed[account]
        record = JournalRecord(account, "KillSwitch", clock.now(), payload)
        stored = _attempt(failed, account, "audit record", partial(_store, uow_factory, record))
        if stored and publish is not None:
            _attempt({}, account, "publish", partial(publish, record))
        messages.append(f"{account}: {result}")
    if failed:
        problems = "; ".join(f"{account}: {problem}" for account, problem in failed.items())
        return Outcome(
            False,
            None,
            None,
            "KILL_SWITCH_INCOMPLETE",
            f"every step was tried, some failed ({problems}); results: {'; '.join(messages)}",
        )
    return Outcome(True, None, TradingState.HALTED.value, None, "; ".join(messages))


T = TypeVar("T")


def _attempt(
    failed: dict[AccountId, str], account: AccountId, step: str, fn: Callable[[], T]
) -> T | None:
    """Run one step of the kill switch for ``account``; a failure is logged and noted in
    ``failed`` (the first one per account), and gives None."""
    try:
        return fn()
    except Exception as exc:
        _log.exception("kill switch: the %s of %s failed", step, account)
        failed.setdefault(account, f"{step}: {exc!r}")
        return None


def _store(uow_factory: Callable[[], UnitOfWork], record: JournalRecord) -> bool:
    with uow_factory() as uow:
        uow.journal.append(record)
        uow.commit()
    return True
