"""Exits against other threads: what another thread does between an exit's decision and its
send, or while a queued retirement record is written, never moves an exit onto shares that are
not its own."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from algodesk.domain.exits import ExitPlan
from algodesk.domain.identifiers import AccountId
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money, price
from tests.integration.test_engine import AAPL, USD, funded_desk, submit
from tests.integration.test_exit_cancels import SELL, D, held, mark
from tests.integration.test_exit_failures import _restart
from tests.integration.test_exit_retries import _then_b, a_flat_in_flight_refilling

OTHER = AccountId("acct-2")


class _SlowGate:
    """The exits' store: a POSITION_CLOSED record fails while ``closed``; once not, the first
    unit opened on another thread than the test's waits (``entered`` set) until ``go`` is set,
    as a busy database makes a writer wait; an exit's own record (``mark`` in it) fails while
    ``exit``."""

    def __init__(self, factory: Any) -> None:
        self.factory, self.closed, self.exit = factory, True, False
        self.entered, self.go = threading.Event(), threading.Event()
        self.waited = False

    def __call__(self) -> Any:
        gate, uow = self, self.factory()

        class Unit:
            def __enter__(self) -> Any:
                elsewhere = threading.current_thread() is not threading.main_thread()
                if elsewhere and not gate.closed and not gate.waited:
                    gate.waited = True
                    gate.entered.set()
                    assert gate.go.wait(10)
                inner = uow.__enter__()
                journal = inner.journal

                class Journal:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(journal, name)

                    def append(self, record: Any) -> None:
                        kind = record.payload.get("kind")
                        if gate.closed and kind == "POSITION_CLOSED":
                            raise OSError("database is locked")
                        if gate.exit and "mark" in record.payload:
                            raise OSError("database is locked")
                        journal.append(record)

                class Proxy:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(inner, name)

                proxy = Proxy()
                proxy.journal = Journal()  # type: ignore[attr-defined]
                return proxy

            def __exit__(self, *exc: object) -> Any:
                return uow.__exit__(*exc)

        return Unit()


def test_a_record_written_by_another_accounts_fill_while_the_exit_fires_keeps_the_key() -> None:
    """A's queued retirement record was being written by another account's fill thread (A not
    in flight when checked) when A's stop fired; the record, committed first, was counted under
    the stop's key: a restart looked the wrong key up, armed the stop again and sold B's 8."""
    desk = a_flat_in_flight_refilling()  # A (stop 95) holds 4 bought after a flat in flight
    gate = _SlowGate(desk.exits._uow_factory)
    desk.exits._uow_factory = gate  # type: ignore[method-assign]
    mark(desk, "94")  # the retry held back; A's dropped 8: its record fails, queued
    assert desk.exits._unwritten
    _then_b(desk)  # A holds 8 (its watch), B 8 with no exits: 16
    # A second account, with a stop of its own on 4 it holds (the venue fills 4 a quote).
    desk.engine._limits.accounts[OTHER] = RiskLimits(max_orders_per_second=None)  # type: ignore[index]
    desk.ledger.deposit(OTHER, money("100000", USD), key="seed-2")
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
