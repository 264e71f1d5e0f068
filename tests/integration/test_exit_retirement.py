"""An entry's exits retire with its position, judged fill by fill in their order (a close and
a re-entry in one engine batch kept the old stop, which sold the new entry), and an exit that
went is done with its whole watch (after a restart the rest of it was armed again on a later
entry). From a review probe."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.values import price
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit

D = Decimal
SELL = OrderSide.SELL


def mark(desk: Desk, last: str) -> list[object]:
    desk.quote(AAPL, last)
    return list(desk.exits.on_mark(AAPL.id, D(last)))


def held(desk: Desk) -> Decimal:
    return desk.engine.position(ACCOUNT, None, AAPL.id)


def test_close_and_reentry_in_one_batch_retire_the_old_stop() -> None:
    """Long 10 with a stop at 95; one engine batch (an alert drain) sells the 10 and buys 10
    again with no exits. The batch's fills are delivered after its commit, so _retire_closed
    reads the *final* book (+10) for the sale's fill and keeps the old stop: it then sells the
    new entry at 94 -- the bug the commit says it fixes."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(side=SELL, qty="10")).ok
        assert desk.engine.handle(submit(qty="10")).ok  # no exits this time
    assert held(desk) == D(10)
    assert mark(desk, "94") == []  # fails: the old entry's stop fires
    assert held(desk) == D(10)


def test_close_and_reentry_with_a_wider_stop_in_one_batch() -> None:
    """Same, the new entry has its own stop at 80: the old stop at 95 sells it at 94."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    with desk.engine.batch(ACCOUNT):
        assert desk.engine.handle(submit(side=SELL, qty="10")).ok
        assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("80")))).ok
    mark(desk, "94")
    assert held(desk) == D(10)  # fails: sold by the old entry's stop


def test_an_exit_sized_below_its_watch_arms_nothing_after_a_restart() -> None:
    """(pre-existing, same symptom) Long 10 with a stop; 4 sold by hand; the stop sells the 6
    left and journals size 6. After a restart restore() arms 10-6=4 on a flat book; a later
    entry without exits is then sold by that stop (and the new fill does not retire it, as
    the book is long again)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(side=SELL, qty="4")).ok
    (outcome,) = mark(desk, "94")
    assert outcome.ok  # type: ignore[attr-defined]
    assert held(desk) == D(0)
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "100")
    assert restarted.engine.handle(submit(qty="10")).ok
    restarted.quote(AAPL, "94")
    assert restarted.exits.on_mark(AAPL.id, D(94)) == []  # fails: a ghost stop of 4 fires


def test_a_stop_of_no_bot_with_a_bot_holding_beside_it() -> None:
    """(pre-existing, in the same mismatch) The trader holds 10 with a stop, sells 5 by hand;
    bot alpha holds 10. The stop is sized on the account's 15 (engine.position(acct, None)),
    sells 10 under no bot, and the trader's own book ends short 5 -- the retirement logic
    (own book) and the exit sizing (account) disagree."""
    from algodesk.domain.identifiers import BotId
    from algodesk.domain.values import money
    from tests.integration.test_engine import USD

    desk = funded_desk()
    alpha = BotId("alpha")
    desk.ledger.allocate(ACCOUNT, alpha, money("20000", USD))
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(side=SELL, qty="5")).ok
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok
    mark(desk, "94")
    assert desk.engine.book_position(ACCOUNT, None, AAPL.id) == D(0)  # fails: -5
    assert desk.engine.position(ACCOUNT, alpha, AAPL.id) == D(10)


def test_a_retirement_whose_record_was_lost_is_done_again_at_the_next_start() -> None:
    """The fill commits; the POSITION_CLOSED record is a separate later transaction. When it
    does not land (a crash or a storage error between them), the next start retires the
    restored watch on the flat book (it was armed again and sold a later entry that had no
    exits)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    real = desk.exits._uow_factory

    def broken():  # the retirement's own transaction fails (simulated crash point)
        raise RuntimeError("db gone")

    desk.exits._uow_factory = broken  # type: ignore[assignment]
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok  # fill committed
    desk.exits._uow_factory = real  # type: ignore[assignment]
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(0)
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "100")
    assert restarted.engine.handle(submit(qty="10")).ok  # a new entry, no exits
    restarted.quote(AAPL, "94")
    assert restarted.exits.on_mark(AAPL.id, D(94)) == []  # ghost stop of the old entry fires
    assert restarted.engine.position(ACCOUNT, None, AAPL.id) == D(10)


def test_a_start_retires_a_restored_watch_on_a_flat_book() -> None:
    """A fill the runner did not hear: at the next start, a restored watch whose book is flat
    is retired (it was kept armed)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    desk.engine._subscribers.remove(desk.exits._on_event)  # fill not heard by the runner
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok
    restarted = Desk(store=desk.store)
    assert restarted.exits.book.live((ACCOUNT, None), AAPL.id, besides=None) == []  # type: ignore[arg-type]


def _lose_retirement_record(desk: Desk) -> None:
    """Sell the 10 while the runner's own journal write fails (the fill commits)."""
    real = desk.exits._uow_factory

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("db gone")

    desk.exits._uow_factory = broken  # type: ignore[assignment]
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok
    desk.exits._uow_factory = real  # type: ignore[assignment]


def test_a_lost_retirement_is_found_at_the_start_though_a_later_entry_holds_again() -> None:
    """Entry A (stop 95) closed by hand, its POSITION_CLOSED record lost; entry B (no exits)
    made before the restart. At the start the book is long 10 (B), but the ledger shows A's
    book went flat after A: A's restored watch is retired (its stop sold B)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    _lose_retirement_record(desk)
    assert desk.engine.handle(submit(qty="10")).ok  # entry B, no exits
    restarted = Desk(store=desk.store)
    restarted.quote(AAPL, "94")
    assert restarted.exits.on_mark(AAPL.id, D(94)) == []
    assert restarted.engine.position(ACCOUNT, None, AAPL.id) == D(10)


def test_loading_again_keeps_a_retired_watch_retired() -> None:
    """Without a restart: the runner had retired A's watch in memory; loading again restores
    it from the journal, and the ledger's history retires it again (it was kept: the stop sold
    B)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    _lose_retirement_record(desk)
    assert desk.engine.handle(submit(qty="10")).ok  # entry B, no exits
    desk.quote(AAPL, "94")
    assert desk.exits.on_mark(AAPL.id, D(94)) == []  # passes: retired in memory
    desk.quote(AAPL, "100")
    desk.exits.load([ACCOUNT])
    desk.quote(AAPL, "94")
    assert desk.exits.on_mark(AAPL.id, D(94)) == []
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(10)


def live(desk: Desk) -> list[object]:
    """The account's own armed watches in AAPL."""
    none = ClientOrderId("NONE")
    return list(desk.exits.book.live((ACCOUNT, None), AAPL.id, besides=none))


def test_a_stop_bought_into_a_short_and_still_held_survives_a_restart() -> None:
    """Short 10 (no exits); a buy of 5 with a stop at 95 (book -5); a buy of 20 with no exits
    (book +15). The running desk keeps the stop (its entry's own fill never retires it), and so
    does a restart (it retired it, from the ledger's -5 right after the entry's fill)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(side=SELL, qty="10")).ok
    assert desk.engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(qty="20")).ok
    assert desk.engine.position(ACCOUNT, None, AAPL.id) == D(15)
    assert len(live(desk)) == 1  # running desk: the stop is live
    restarted = Desk(store=desk.store)
    assert len(live(restarted)) == 1


def test_a_fill_entry_without_an_order_id_does_not_stop_the_start() -> None:
    """A FILL entry whose details lack client_order_id (the ledger's own parsing does not need
    it) is replayed as another order's fill (the start failed with a KeyError)."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    chain = desk.store.entries[ACCOUNT]
    for n, e in enumerate(chain):
        if e.kind.value == "FILL":
            details = {k: v for k, v in e.details.items() if k != "client_order_id"}

            chain[n] = dataclasses.replace(e, details=details)
    try:
        Desk(store=desk.store)
    except KeyError as exc:
        raise AssertionError(f"start failed: KeyError {exc}") from exc


def test_short_entry_and_two_watches_same_book_survive_a_restart() -> None:
    desk = funded_desk()
    for qty, stop in (("10", "105"), ("5", "110")):
        plan = ExitPlan(stop_loss=price(stop))
        assert desk.engine.handle(submit(side=SELL, qty=qty, exits=plan)).ok
    assert desk.engine.handle(submit(qty="12")).ok  # cover part: -3
    restarted = Desk(store=desk.store)
    assert len(live(restarted)) == 2
