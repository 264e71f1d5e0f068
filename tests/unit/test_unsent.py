"""The requests kept while a venue is down: each goes to one sender, and only while wanted."""

from __future__ import annotations

import threading

from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import OrderStatus
from algodesk.services.unsent import Request, Unsent
from tests.conftest import ACCOUNT
from tests.unit.test_order_transitions import EVENTS, order_in

COID = ClientOrderId("ORD1")


def test_a_kept_request_is_claimed_once_and_can_be_put_back() -> None:
    kept = Unsent()
    kept.add(ACCOUNT, COID, Request.SUBMIT)
    assert not kept.claim(COID, Request.CANCEL)  # another request of the order
    assert kept.claim(COID, Request.SUBMIT)
    assert not kept.claim(COID, Request.SUBMIT)
    assert len(kept) == 0
    kept.add(ACCOUNT, COID, Request.SUBMIT)  # it could not go yet
    assert kept.items() == [(COID, ACCOUNT, Request.SUBMIT)]


def test_of_many_threads_claiming_one_request_exactly_one_gets_it() -> None:
    kept = Unsent()
    kept.add(ACCOUNT, COID, Request.CANCEL)
    start = threading.Barrier(8)
    won: list[bool] = []

    def claim() -> None:
        start.wait()
        won.append(kept.claim(COID, Request.CANCEL))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


def test_a_submit_is_wanted_while_unsent_and_a_cancel_while_the_order_works_on() -> None:
    assert Request.SUBMIT.wanted(order_in(OrderStatus.SUBMITTED))
    assert not Request.SUBMIT.wanted(order_in(OrderStatus.ACCEPTED))
    pending = order_in(OrderStatus.ACCEPTED)
    assert not Request.CANCEL.wanted(pending)
    pending.apply(EVENTS["PendCxl"](pending))
    assert Request.CANCEL.wanted(pending)
    pending.apply(EVENTS["FillPart"](pending))  # a part fill raced the cancel: still wanted
    assert Request.CANCEL.wanted(pending)
    pending.apply(EVENTS["Canceled"](pending))
    assert not Request.CANCEL.wanted(pending)
