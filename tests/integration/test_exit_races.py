"""Exits against other threads: what another thread does between an exit's decision and its
send, or while a queued retirement record is written, never moves an exit onto shares that are
not its own; an exit sent under its account's lock never waits for another account's lock; a
trailing stop follows the marks heard while its record is written."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from algodesk.domain.commands import CancelOrder
from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.identifiers import AccountId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money, price
from algodesk.services.kill_switch import pull_kill_switch
from algodesk.testing.brokers import ForwardingBroker
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, MSFT, USD, Desk, funded_desk, submit
from tests.integration.test_exit_cancels import SELL, D, held, mark
from tests.integration.test_exit_failures import _restart
from tests.integration.test_exit_late_records import _Gate
from tests.integration.test_exit_retries import (
    _then_b,
    a_flat_in_flight_refilling,
)

OTHER = AccountId("acct-2")


def _second_account(desk: Desk) -> None:
    desk.engine._limits.accounts[OTHER] = RiskLimits(max_orders_per_second=None)  # type: ignore[index]
    desk.ledger.deposit(OTHER, money("100000", USD), key="seed-2")


def test_a_record_written_by_another_accounts_fill_while_the_exit_fires_keeps_the_key() -> None:
    """A's queued retirement record was being written by another account's fill thread (A not
    in flight when checked) when A's stop fired; the record, committed first, was counted under
    the stop's key: a restart looked the wrong key up, armed the stop again and sold B's 8."""
    desk = a_flat_in_flight_refilling()  # A (stop 95) holds 4 bought after a flat in flight
    gate = _Gate(desk.exits._uow_factory, slow=True)
    desk.exits._uow_factory = gate  # type: ignore[method-assign]
    mark(desk, "94")  # the retry held back; A's dropped 8: its record fails, queued
    assert desk.exits._unwritten
    _then_b(desk)  # A holds 8 (its watch), B 8 with no exits: 16
    # A second account, with a stop of its own on 4 it holds (the venue fills 4 a quote).
    _second_account(desk)
    x = replace(submit(qty="4", exits=ExitPlan(stop_loss=price("50"))), account_id=OTHER)
    assert desk.engine.handle(x).ok
    assert desk.engine.position(OTHER, None, AAPL.id) == D(4)
    gate.closed, gate.exit = False, True

    def sells_x() -> None:  # on the alerts thread: X closed by hand, its watch retired
        sale = replace(submit(side=SELL, qty="4"), account_id=OTHER)
        assert desk.engine.handle(sale).ok  # the fill's writer writes A's queued record first

    desk.quote(AAPL, "93.9")  # market thread: the quote (the venue, the engine's pump)
    other = threading.Thread(target=sells_x)
    other.start()
    assert gate.entered.wait(10)  # A's record is being written (A not in flight when checked)
    # ... then its mark: the writer is busy; A's stop goes, its record fails.
    assert desk.exits.on_mark(AAPL.id, D("93.9")) == []
    gate.go.set()
    other.join(10)
    assert not other.is_alive()
    for last in ("93.85", "93.84"):  # the venue fills 4 a quote; the retry's record fails
        mark(desk, last)
    assert held(desk) == D(8)  # A's 8 sold by its stop
    assert desk.exits._retry
    after = _restart(desk)  # the exit's record never written
    for last in ("93.4", "93.3", "93.2", "93.1", "93.0"):
        mark(after, last)
    assert held(after) == D(8), "after a restart A's stop was sent again and sold B's 8"


def test_a_stop_whose_book_went_flat_before_it_was_sent_never_sells_a_later_entry() -> None:
    """A holds 10 with a stop at 95. The stop fires and reads A's position (10); before it is
    sent (its way is being cleared), another thread closes A by hand and B buys 10 with no
    exits: A's watch is marked flat in flight, but the stop was sent anyway, sized on the 10
    read before, and sold B's 10."""
    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    real = desk.engine.open_orders
    done: list[bool] = []

    def open_orders(*args: Any, **kwargs: Any) -> Any:
        if not done:  # heard on the alerts thread meanwhile
            done.append(True)
            assert desk.engine.handle(submit(side=SELL, qty="10")).ok  # A closed by hand
            assert desk.engine.handle(submit(qty="10")).ok  # B: 10, no exits
        return real(*args, **kwargs)

    desk.engine.open_orders = open_orders  # type: ignore[method-assign]
    mark(desk, "94")
    desk.engine.open_orders = real  # type: ignore[method-assign]
    assert done
    assert held(desk) == D(10), "A's stop, sized before A was closed, sold B's 10"
    mark(desk, "93")
    assert held(desk) == D(10), "A's old stop sold B's 10"


# -- 1. an exit's pump under its account's lock ---------------------------------------------


class _Remote(ForwardingBroker):
    """The paper exchange as a remote venue: its reports arrive on the venue's own connection,
    at any moment. ``arrive`` runs before each drain and ``drained`` after it: the test pins
    when they come."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.arrive: Any = lambda: None
        self.drained: Any = lambda: None

    def drain(self) -> list[Any]:
        self.arrive()
        events = super().drain()
        self.drained()
        return events


def test_an_exit_sent_under_its_accounts_lock_never_deadlocks_with_another_accounts_batch() -> None:
    """The market thread sends A's stop holding A's lock, and the engine's pump then applies
    the venue's reports of every account under it. The alerts thread, in a batch of account
    OTHER, sends an order to the remote venue (outside the batch: pumped under OTHER's lock).
    The stop's pump got OTHER's report and waited for OTHER's lock; the batch's pump got a fill
    of A's resting order, reported meanwhile, and waited for A's: both threads stuck for good,
    no more marks or stops, and the kill switch waits forever for A's lock."""
    desk = funded_desk(venue=_Remote)
    remote: _Remote = desk.engine._brokers[AAPL.id.venue]  # type: ignore[assignment]
    _second_account(desk)
    desk.quote(MSFT, "50")
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    resting = submit(qty="1", kind=OrderType.LIMIT, px="48", instrument=MSFT.id)
    assert desk.engine.handle(resting).ok  # A's buy resting at the venue
    desk.quote(AAPL, "94")

    both_in = threading.Barrier(2, timeout=5)
    stop_drained = threading.Event()
    first: set[str] = set()

    def arrive() -> None:
        name = threading.current_thread().name
        if name not in ("market", "alerts") or name in first:
            return
        first.add(name)  # each thread's first pump: the stop's, the batch's
        both_in.wait()
        if name == "alerts":  # the stop's pump drained first; then A's buy fills at the venue
            assert stop_drained.wait(5)
            desk.paper.on_quote(Quote(MSFT.id, desk.clock.now(), D(47)))

    def drained() -> None:
        if threading.current_thread().name == "market":
            stop_drained.set()

    remote.arrive, remote.drained = arrive, drained

    def market() -> None:
        desk.exits.on_mark(AAPL.id, D(94))

    def alerts() -> None:
        with desk.engine.batch(OTHER):
            order = replace(submit(qty="1", instrument=MSFT.id), account_id=OTHER)
            desk.engine.handle(order)

    threads = [threading.Thread(target=f, name=f.__name__, daemon=True) for f in (market, alerts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    stuck = [t.name for t in threads if t.is_alive()]
    kill = threading.Thread(
        target=pull_kill_switch,
        args=(desk.engine, desk.factory, desk.clock, "ops", "review"),
        daemon=True,
    )
    kill.start()
    kill.join(1.0)
    assert not stuck, f"deadlock: the {stuck} threads wait for each other's account lock"
    assert not kill.is_alive(), "the kill switch waits for an account lock held for good"
    assert held(desk) == D(0)  # A's stop sold its 10


# -- 2. the marks skipped while a record is written ------------------------------------------


def _marks_while_a_record_is_written(plan: ExitPlan, marks: tuple[str, ...]) -> Desk:
    """A (``plan``) holds 8 bought after its book went flat in flight, and the record of the
    part its book dropped is queued; another account's fill thread writes it (a busy database:
    it waits) while the market thread hears ``marks``."""
    desk = a_flat_in_flight_refilling(plan)
    gate = _Gate(desk.exits._uow_factory, slow=True)
    desk.exits._uow_factory = gate  # type: ignore[method-assign]
    mark(desk, "94")  # A fills 4 more (8); the retry is not sent; the dropped 8's record fails
    assert desk.exits._unwritten
    (a,) = desk.exits.book.watches
    assert desk.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=a)).ok
    desk.quote(AAPL, "101")
    assert held(desk) == D(8)
    assert desk.exits.book.watches[a].quantity == D(8)
    _second_account(desk)  # with a stop of its own on 4 it holds
    x = replace(submit(qty="4", exits=ExitPlan(stop_loss=price("50"))), account_id=OTHER)
    assert desk.engine.handle(x).ok
    gate.closed = False

    def sells_x() -> None:  # the alerts thread: X sold by hand; its fill writes A's record
        sale = replace(submit(side=SELL, qty="4"), account_id=OTHER)
        assert desk.engine.handle(sale).ok

    other = threading.Thread(target=sells_x, daemon=True)
    other.start()
    assert gate.entered.wait(10)  # A's record is being written
    for last in marks:  # the market thread meanwhile
        mark(desk, last)
    gate.go.set()
    other.join(10)
    assert not other.is_alive()
    assert not desk.exits._unwritten
    return desk


def test_a_trailing_stop_follows_the_marks_heard_while_its_record_is_written() -> None:
    """A's trailing stop (5 points) watches 8; the record of the part its book dropped is
    queued. Another account's fill thread writes it (a busy database: it waits) while the
    price runs to 110 and falls back to 104. Those marks were skipped altogether: the stop's
    high stayed at 100, so at 104 (5.99 below the high of 110) it did not go, and it would
    only go at 95, about 9 a share lower."""
    plan = ExitPlan(trailing=Trailing(D(5), TrailingUnit.POINTS))
    desk = _marks_while_a_record_is_written(plan, ("105", "110", "104"))
    mark(desk, "104")  # 6 below the high of 110: through the trailing stop (105)
    desk.quote(AAPL, "104")  # (the venue fills 4 a quote)
    assert held(desk) == D(0), (
        "the trailing stop missed the high of 110 heard while A's record was written"
    )


def test_a_take_profit_heard_while_a_record_is_written_raises_the_trailing_high() -> None:
    """A: trailing stop 5 points and take-profit 108. While A's queued record is written the
    price runs 105, 110 (through the take-profit: the fire is discarded, 'at the next mark'),
    then falls to 104. The mark that fired the discarded take-profit never moved the trailing
    high (a firing mark does not ratchet): the high stayed 105, the stop at 100, and at 104
    nothing goes; the take-profit is below 108 again. Correct: high 110, stop 105, sold at 104."""
    plan = ExitPlan(take_profit=price("108"), trailing=Trailing(D(5), TrailingUnit.POINTS))
    desk = _marks_while_a_record_is_written(plan, ("105", "110"))
    (a,) = desk.exits.book.watches
    assert desk.exits.book.watches[a].trailing_stop() == D(105), "the high of 110 was lost"
    mark(desk, "104")
    desk.quote(AAPL, "104")
    assert held(desk) == D(0), "the trailing stop missed the high of 110"
