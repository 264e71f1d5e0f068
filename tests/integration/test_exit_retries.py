"""An exit sent whose try then failed (its answer lost, its record not written) is sent again
exactly as it was, under its key, until the engine's answer is recorded, also across a
restart: never another exit of the watch under a key of its own, never a key used twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from algodesk.domain.commands import CancelOrder, Command, SetTradingState
from algodesk.domain.exits import ExitPlan
from algodesk.domain.risk.base import TradingState
from algodesk.domain.values import price
from algodesk.ports.storage import JournalRecord
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit
from tests.integration.test_exit_cancels import SELL, D, held, mark
from tests.integration.test_exit_failures import (
    _fail_next_runner_write,
    _partly_filling_entry,
    _restart,
    _Unavailable,
)

PLAN = ExitPlan(stop_loss=price("95"), take_profit=price("105"))


def _lose_first_exit_answer(desk: Any) -> Any:
    real_handle = desk.engine.handle
    failed: list[bool] = []

    def handle(command: Command) -> Any:
        outcome = real_handle(command)
        if not failed and getattr(command, "reduce_only", False):
            failed.append(True)
            raise OSError("the answer was lost")
        return outcome

    desk.engine.handle = handle
    return real_handle


def stop_sent_unanswered(b_holds: str = "10") -> Desk:
    """Entry A holds 10 with a stop-loss at 95 and a take-profit at 105, entry B holds
    ``b_holds`` with no exits; at 94 A's stop sells A's 10 and its answer is lost."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=PLAN)).ok  # A
    assert desk.engine.handle(submit(qty=b_holds)).ok  # B
    real = _lose_first_exit_answer(desk)
    assert mark(desk, "94") == []  # sent, unanswered
    desk.engine.handle = real  # type: ignore[method-assign]
    assert held(desk) == D(b_holds)  # A's 10 sold
    return desk


def test_a_retried_exit_is_answered_under_its_key_even_when_the_position_shrank() -> None:
    """A (10, with exits) and B (5, no exits). The stop sells A's 10, unanswered. The retry
    resized itself on what was held then (5): another command under the same key, refused
    IDEMPOTENCY_KEY_REUSED, journaled as a denial, the watch armed again under a new key,
    and the next exit sold B's 5."""
    desk = stop_sent_unanswered("5")
    (again,) = mark(desk, "93")
    codes = [again.code]  # type: ignore[attr-defined]
    mark(desk, "92")
    mark(desk, "106")
    assert held(desk) == D(5), f"A's exit was sent twice: B's position sold ({codes})"


def test_a_retry_that_fails_before_it_is_sent_stays_a_retry() -> None:
    """The stop went unanswered; at the retry something fails before the send (here the
    position read): the watch is held back as if nothing had ever been sent, and the
    take-profit went under a key of its own, selling B's 10 (the retry was forgotten)."""
    desk = stop_sent_unanswered("10")
    real_position = desk.engine.position
    blips: list[bool] = []

    def position(*args: Any) -> Any:
        if not blips:
            blips.append(True)
            raise OSError("blip")
        return real_position(*args)

    desk.engine.position = position
    assert mark(desk, "100") == []  # the retry failed before its send
    desk.engine.position = real_position
    mark(desk, "106")
    mark(desk, "107")
    assert held(desk) == D(10), "A's exit was sent twice: B's position sold"


def test_an_exit_sent_unanswered_before_a_restart_is_never_sent_again_by_another_kind() -> None:
    """The retry lived in memory only: after a restart the watch was restored whole (no record
    of the stop) and the take-profit went under a key of its own, selling B's 10. The start now
    records what the engine answered under the watch's next keys."""
    desk = stop_sent_unanswered("10")
    after = _restart(desk)
    mark(after, "106")
    mark(after, "107")
    assert held(after) == D(10), "A's exit was sent twice across a restart: B's position sold"


def test_keys_after_a_denial_whose_record_failed_agree_with_a_restart() -> None:
    """A denial whose ExitDenied write failed counted its key in memory (rearm) but not in the
    journal: after a restart the stop reused the key of the last denial and was answered with
    it (TRADING_HALTED) while trading was active."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    halt = SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="drill")
    assert desk.engine.handle(halt).ok
    _fail_next_runner_write(desk)
    assert mark(desk, "94") == []  # denied under :0, its record lost (memory: attempts 1)
    (denied,) = mark(desk, "93.9")  # denied under :1, journaled (journal: 1 record)
    assert denied.code == "TRADING_HALTED"  # type: ignore[attr-defined]
    active = SetTradingState(account_id=ACCOUNT, state=TradingState.ACTIVE, reason="over")
    assert desk.engine.handle(active).ok
    after = _restart(desk)
    after.clock.advance(timedelta(seconds=1))
    (stop,) = mark(after, "93.8")
    assert stop.ok, stop  # type: ignore[attr-defined]


def test_an_exit_whose_send_failed_unanswered_is_resolved_under_its_own_key() -> None:
    """The engine took the stop (sold 10) and then failed before it answered: the stop may
    have gone, so it is tried again as it was, under the same key (the engine answers what it
    recorded), never by another exit of the watch under a key of its own (which sold the other
    entry's 10)."""
    desk = stop_sent_unanswered()
    (again,) = mark(desk, "106")  # the stop again, as it was: answered from the journal
    assert again.ok, again  # type: ignore[attr-defined]
    assert again.replayed, again  # type: ignore[attr-defined]
    mark(desk, "107")
    assert held(desk) == D(10), "A's exit was sent twice: B's position sold"


def _fail_first_exit_unrecorded(desk: Desk) -> Any:
    """The desk's first reduce-only command fails before the engine records anything (say
    SQLite's write lock timed out); returns the engine's own ``handle`` to put back."""
    real = desk.engine.handle
    failed: list[bool] = []

    def handle(command: Command) -> Any:
        if not failed and getattr(command, "reduce_only", False):
            failed.append(True)
            raise OSError("database is locked")
        return real(command)

    desk.engine.handle = handle  # type: ignore[method-assign]
    return real


def test_an_exit_that_never_reached_the_engine_is_not_resent_after_its_position_closed() -> None:
    """Entry A (10, stop 95). At 94 the stop's send fails before the engine records it (say
    SQLite's write lock timed out): nothing sold. The trader then sells A's 10 by hand (the
    book flat: A's watch would retire, but it is in flight and ``retire`` refuses it), and
    entry B buys 10 with no exits. The next mark re-sent A's stale stop under its key; the
    engine had never seen that key, so it sold B's 10. A retry now goes only when the engine
    recorded its key, and a watch whose book went flat in flight is retired."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    real = _fail_first_exit_unrecorded(desk)
    assert mark(desk, "94") == []
    desk.engine.handle = real  # type: ignore[method-assign]
    assert held(desk) == D(10)  # nothing was sold
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok  # A closed by hand
    assert held(desk) == D(0)
    assert desk.engine.handle(submit(qty="10")).ok  # B, no exits
    mark(desk, "100")
    assert held(desk) == D(10), "A's stale stop sold B's position"
    mark(desk, "94")  # A's old stop level: retired with A's position, it sells nothing
    assert held(desk) == D(10), "A's old stop sold B's position"


def test_an_entry_filling_again_after_its_book_went_flat_in_flight_keeps_its_stop() -> None:
    """A's book went flat (closed by hand) while A's stop was in flight, then A's own resting
    entry filled again: the watch was retired when the retry concluded, and A's new fills had
    no stop. An entry's own fill that leaves its book holding takes the mark back."""
    desk = _partly_filling_entry()  # A: limit buy 20 at 100, stop 95, fills 4 a quote
    mark(desk, "99.99")  # A fills 4
    real = _fail_first_exit_unrecorded(desk)
    assert mark(desk, "94") == []  # A fills 4 more (8); the stop fails unrecorded: a retry
    desk.engine.handle = real  # type: ignore[method-assign]
    desk.quote(AAPL, "101")
    while held(desk) > 0:  # A's 8 closed by hand: flat while the watch is in flight
        assert desk.engine.handle(submit(side=SELL, qty=str(min(held(desk), D(4))))).ok
        desk.quote(AAPL, "101")
    assert held(desk) == D(0)
    desk.quote(AAPL, "99.99")  # A's own entry fills again: long 4, A's fill
    assert held(desk) == D(4)
    mark(desk, "94")  # the retry: not recorded, held back (A fills 4 more: 8)
    assert held(desk) == D(8)  # all A's, bought after the flat
    assert desk.exits.book.watches, "A's own later fills lost their stop (watch retired)"
    for last in ("93.9", "93.8", "93.7"):  # the stop sells them (the venue fills 4 a quote)
        mark(desk, last)
    assert held(desk) == D(0)


def _a_refilled_after_a_flat_in_flight_then_b() -> Desk:
    """A (a limit buy of 20 at 100, stop 95, 4 a quote) holds 8 when its stop fails
    unrecorded; A's 8 are sold by hand while the stop is in flight, then A's own order fills
    8 more (all A holds now) and is canceled; B buys 8 with no exits: 16 held."""
    desk = a_flat_in_flight_refilling()
    mark(desk, "94")  # the retry held back; A fills 4 more: 8, all bought after the flat
    return _then_b(desk)


def a_flat_in_flight_refilling(plan: ExitPlan | None = None) -> Desk:
    """A (a limit buy of 20 at 100, ``plan``: a stop at 95, 4 a quote) holds 8 when its exit
    fails unrecorded (a retry waits); A's 8 are sold by hand while the exit is in flight, then
    A's own order fills 4 again."""
    desk = _partly_filling_entry(plan)
    mark(desk, "99.99")  # A fills 4
    real = _fail_first_exit_unrecorded(desk)
    assert mark(desk, "94") == []  # A fills 4 more (8); the stop fails unrecorded: a retry
    desk.engine.handle = real  # type: ignore[method-assign]
    desk.quote(AAPL, "101")
    while held(desk) > 0:  # A's 8 closed by hand while the watch is in flight
        assert desk.engine.handle(submit(side=SELL, qty=str(min(held(desk), D(4))))).ok
        desk.quote(AAPL, "101")
    desk.quote(AAPL, "99.99")  # A's own entry fills again: 4
    return desk


def _then_b(desk: Desk) -> Desk:
    """A holds 8; A's order is canceled and B buys 8 with no exits: 16 held."""
    assert held(desk) == D(8)
    (a,) = desk.exits.book.watches
    assert desk.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=a)).ok
    desk.quote(AAPL, "101")
    assert desk.engine.handle(submit(qty="8")).ok  # B: 8, no exits
    for _ in range(3):
        desk.quote(AAPL, "101")
    assert held(desk) == D(16)
    return desk


def test_a_stop_taken_back_in_flight_watches_only_what_its_entry_filled_since() -> None:
    """The watch kept what it held before its book went flat (8) and added the 8 A filled
    since: sized 16, A's stop sold B's 8 as well."""
    desk = _a_refilled_after_a_flat_in_flight_then_b()
    for last in ("93.9", "93.8", "93.7", "93.6", "93.5"):
        mark(desk, last)
    assert held(desk) == D(8), "A's stop (sized 16 from before the flat) sold B's 8"


def test_a_stop_taken_back_in_flight_watches_only_its_new_fills_after_a_restart() -> None:
    """The same across a restart: the part dropped is journaled as retired, so the restored
    watch is 8, not the entry's 16 filled."""
    after = _restart(_a_refilled_after_a_flat_in_flight_then_b())
    for last in ("93.9", "93.8", "93.7", "93.6", "93.5"):
        mark(after, last)
    assert held(after) == D(8), "A's restored stop sold B's 8"


def test_a_restart_that_lost_the_retirement_still_watches_only_the_new_fills() -> None:
    """The same, with the record of the dropped part lost (a crash between the fill and the
    record): the start's replay of the ledger's fills finds A's book closed and A filling
    again since, and keeps only those 8 under A's stop."""
    desk = _a_refilled_after_a_flat_in_flight_then_b()

    def kept(records: list[JournalRecord]) -> list[JournalRecord]:
        return [r for r in records if not (r.kind == "ExitFired" and r.payload.get("by"))]

    desk.store.journal[:] = kept(desk.store.journal)  # the record lost
    desk.store._records[ACCOUNT] = kept(desk.store._records[ACCOUNT])
    after = _restart(desk)
    for last in ("93.9", "93.8", "93.7", "93.6", "93.5"):
        mark(after, last)
    assert held(after) == D(8), "A's restored stop sold B's 8"


def test_a_dropped_part_whose_record_failed_is_not_rearmed_after_its_stop_went() -> None:
    """As _a_refilled_after_a_flat_in_flight_then_b, but the POSITION_CLOSED record of A's
    dropped 8 fails. A's stop then sells A's 8 (ExitFired size 8). After a restart A's watch
    was restored as 16 filled - 8 exited = 8, equal to what the ledger says A filled since the
    close, so it was kept armed and sold B's 8. A record whose write failed is now written at
    the next mark."""
    desk = a_flat_in_flight_refilling()
    factory = desk.exits._uow_factory
    calls = [0]

    def failing() -> Any:  # the retry's record check passes, the dropped part's record fails
        calls[0] += 1
        return _Unavailable() if calls[0] == 2 else factory()

    desk.exits._uow_factory = failing  # type: ignore[method-assign]
    mark(desk, "94")
    desk.exits._uow_factory = factory  # type: ignore[method-assign]
    assert calls[0] >= 2
    assert not [r for r in desk.store.journal if r.payload.get("by") == "exit"]
    (watch,) = desk.exits.book.watches.values()
    assert watch.quantity == D(8)
    _then_b(desk)
    for last in ("93.9", "93.8", "93.7", "93.6", "93.5"):
        mark(desk, last)
    assert held(desk) == D(8)  # in process: A's stop sold A's 8 only
    after = _restart(desk)
    for last in ("93.4", "93.3", "93.2", "93.1", "93.0"):
        mark(after, last)
    assert held(after) == D(8), "after a restart A's stop was armed again and sold B's 8"


def test_an_exit_sent_and_unanswered_is_shown_retrying_until_its_answer_is_recorded() -> None:
    desk = stop_sent_unanswered()
    (view,) = desk.exits.views()
    assert (view.state, view.denied, view.quantity) == ("retrying", None, D(10))
    mark(desk, "93.5")  # the retry: answered from what the engine recorded (it went)
    assert desk.exits.views() == []
    assert held(desk) == D(10)  # B's 10 untouched
