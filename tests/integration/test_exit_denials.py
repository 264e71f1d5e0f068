"""A denied exit stays armed without filling the journal: while its denial stands it is checked
at every mark without sending and journaled again only when the reason changes or once a
minute; it goes at the first mark where the gates let it, also after a restart."""

from __future__ import annotations

from datetime import timedelta

from algodesk.adapters.storage.memory.store import InMemoryUnitOfWork
from algodesk.domain.commands import SetTradingState
from algodesk.domain.risk.base import TradingState
from algodesk.services.exits import DENIAL_REPEAT
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, submit
from tests.integration.test_exit_cancels import SELL, D, alpha_with_a_stop, held, mark


def journaled(desk: Desk) -> dict[str, int]:
    with InMemoryUnitOfWork(desk.store) as uow:
        kinds = [r.kind for r in uow.journal.records(ACCOUNT)]
    return {kind: kinds.count(kind) for kind in ("ExitDenied", "ExitFired", "OrderDenied")}


def denied_at_every_mark(desk: Desk, marks: int) -> list[str]:
    codes = []
    for n in range(marks):
        desk.clock.advance(timedelta(seconds=1))
        (outcome,) = mark(desk, str(94 - n % 3))
        assert not outcome.ok  # type: ignore[attr-defined]
        codes.append(outcome.code)  # type: ignore[attr-defined]
    return codes


def test_a_stop_denied_at_every_mark_is_journaled_once_while_its_denial_stands() -> None:
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    before = journaled(desk)
    codes = denied_at_every_mark(desk, 20)
    assert codes == ["POSITION_NOT_FOUND"] * 20  # each mark still answers why
    after = journaled(desk)
    assert after["ExitDenied"] - before["ExitDenied"] == 1  # it was 20, with 20 denied orders
    assert after["OrderDenied"] - before["OrderDenied"] == 1
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok  # beta covers
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "93")  # the first mark where it can go, it goes
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def test_a_standing_denial_is_journaled_again_when_its_reason_changes_and_once_a_minute() -> None:
    desk, _, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok
    start = journaled(desk)["ExitDenied"]
    denied_at_every_mark(desk, 3)
    assert journaled(desk)["ExitDenied"] == start + 1
    halt = SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="drill")
    assert desk.engine.handle(halt).ok
    codes = denied_at_every_mark(desk, 3)
    assert codes[0] != "POSITION_NOT_FOUND"
    assert len(set(codes)) == 1
    assert journaled(desk)["ExitDenied"] == start + 2  # the new reason, once
    desk.clock.advance(DENIAL_REPEAT)
    denied_at_every_mark(desk, 3)
    assert journaled(desk)["ExitDenied"] == start + 3  # still trying, a minute later


def test_a_held_back_stop_goes_after_a_restart_once_the_way_is_clear() -> None:
    """Marks that only checked the exit used no attempt: after a restart its next try has a
    key of its own, not that of the denied one (which would be answered as denied again)."""
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok
    denied_at_every_mark(desk, 2)  # tried, then held back
    desk.clock.advance(DENIAL_REPEAT)
    denied_at_every_mark(desk, 1)  # tried and journaled again: its second key
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "93")
    (outcome,) = restarted.exits.on_mark(AAPL.id, D(93))
    assert outcome.ok, outcome
    assert restarted.engine.position(ACCOUNT, alpha, AAPL.id) == D(0)
