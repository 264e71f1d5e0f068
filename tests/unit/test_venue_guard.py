"""The venue guard: a hanging call times out with an unknown outcome, later calls fail fast
until the cool-off ends, and a healthy venue is not slowed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.domain.events import OrderAccepted, OrderSubmitted
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.orders import Order, OrderType
from algodesk.domain.values import price, quantity
from algodesk.ports.broker import VenueNotSentError, VenueUnavailableError
from algodesk.services.venue_guard import GuardedBroker
from algodesk.testing.brokers import HangingBroker
from algodesk.testing.clock import FixedClock
from tests.conftest import AAPL, ACCOUNT, T0


def order(coid: str) -> Order:
    o = Order.create(
        client_order_id=ClientOrderId(coid),
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=quantity("1"),
        price=price("100"),
        created_at=T0,
    )
    o.apply(OrderSubmitted(client_order_id=o.client_order_id, ts=T0))
    return o


def test_a_hanging_call_times_out_and_the_venue_cools_off() -> None:
    clock = FixedClock(T0)
    paper = PaperBroker(PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now)
    hanging = HangingBroker(paper, {"submit"})
    guard = GuardedBroker(
        hanging, clock, timeout=timedelta(milliseconds=100), cool_off=timedelta(seconds=10)
    )
    try:
        with pytest.raises(VenueUnavailableError, match=r"no answer within 0\.1s"):
            guard.submit(order("H1"))
        assert not guard.responsive
        with pytest.raises(VenueNotSentError, match="timed out recently"):
            guard.submit(order("H2"))  # refused at once, known not sent: no second timeout
        assert hanging.calls == ["submit"]  # H2 never reached the venue
        clock.advance(timedelta(seconds=10))
        assert guard.responsive
    finally:
        hanging.release()
        guard.close()


def test_a_call_that_finishes_late_still_reports_through_drain() -> None:
    clock = FixedClock(T0)
    paper = PaperBroker(PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now)
    hanging = HangingBroker(paper, {"submit"})
    guard = GuardedBroker(hanging, clock, timeout=timedelta(milliseconds=50))
    with pytest.raises(VenueUnavailableError):
        guard.submit(order("L1"))
    hanging.release()
    deadline = time.monotonic() + 5
    events = []
    while not events and time.monotonic() < deadline:
        events = guard.drain()
        time.sleep(0.01)
    assert [type(e) for e in events] == [OrderAccepted]
    guard.close()


def test_a_healthy_venue_answers_through_the_guard() -> None:
    clock = FixedClock(T0)
    paper = PaperBroker(PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now)
    guard = GuardedBroker(paper, clock)
    guard.submit(order("OK1"))
    assert [type(e) for e in guard.drain()] == [OrderAccepted]
    guard.close()
