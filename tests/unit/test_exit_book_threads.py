"""The exit book is read by the market thread (marks) while fills on other threads arm new
watches: a mark never fails for it (it did: the watches changed size during the iteration, and
that mark's stops went unchecked)."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId, TradeId, Venue
from algodesk.domain.values import money, price, quantity
from algodesk.services.exits import ExitBook

IID = InstrumentId("AAPL.PAPER")
ACC = AccountId("acct-1")


def fill(n: int) -> Fill:
    return Fill(
        account_id=ACC,
        client_order_id=ClientOrderId(f"E{n:06d}"),
        instrument_id=IID,
        venue=Venue("PAPER"),
        trade_id=TradeId(f"t{n}"),
        side=OrderSide.BUY,
        quantity=quantity("1"),
        price=price("100"),
        fee=money("0", "USD"),
        ts=datetime(2026, 1, 5, tzinfo=UTC),
    )


def test_on_mark_while_another_thread_arms_watches() -> None:
    book = ExitBook()
    plan = ExitPlan(stop_loss=price("50"))
    for n in range(2000):
        book.plan(ClientOrderId(f"E{n:06d}"), (ACC, None), plan)
    for n in range(1000):
        book.arm(fill(n))
    errors: list[BaseException] = []
    stop = threading.Event()

    def marks() -> None:
        try:
            while not stop.is_set():
                book.on_mark(IID, Decimal("100"))
                time.sleep(0)  # as between a feed's marks: the fills' threads get the lock
        except BaseException as exc:
            errors.append(exc)

    # Threads switch often, so arms land inside a mark's walk over the watches; the marks
    # pause between them, as a feed's do, so the arms get the lock (a tight loop of marks held
    # it for minutes).
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        t = threading.Thread(target=marks)
        t.start()
        for n in range(1000, 2000):  # entries filling on the API / alert threads
            book.arm(fill(n))
        stop.set()
        t.join()
    finally:
        sys.setswitchinterval(switching)
    assert not errors, errors
