"""Requests a venue was down for (its guard's cool-off), from a review: a kept order the trader
cancels is canceled here and never sent, also after a restart or once the venue is back; a kept
close never turns its book over; a write that fails as a kept request is settled loses
nothing and does not escape the pump."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.domain.client_order_ids import for_signal
from algodesk.domain.commands import CancelOrder, ModifyOrder
from algodesk.domain.events import OrderFilled, OrderSubmitted
from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, ClientOrderId
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.values import Price, price
from algodesk.services.exits import ExitRunner
from algodesk.services.kill_switch import pull_kill_switch
from algodesk.services.outcomes import Outcome
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, submit
from tests.integration.test_restarts_and_kill_switch import HangingDesk
from tests.waiting import waited

D = Decimal
STRANGER = AccountId("acct-2")


@pytest.fixture
def hanging() -> Iterator[HangingDesk]:
    desk = HangingDesk()
    yield desk
    desk.close()


def kept_take_profit(hanging: HangingDesk) -> Outcome:
    """Long 5; a resting buy's cancel times out, so the guard refuses everything for its
    cool-off; a reduce-only take-profit (sell 5 at 101) is refused and kept."""
    engine = hanging.engine
    assert engine.handle(submit(qty="5")).ok
    resting = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    assert resting.ok
    hanging.link.hang = {"cancel"}
    coid = ClientOrderId(str(resting.client_order_id))
    assert engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid)).ok
    assert not hanging.guard.responsive
    take_profit = engine.handle(
        submit(OrderSide.SELL, qty="5", kind=OrderType.LIMIT, px="101", reduce_only=True)
    )
    assert take_profit.ok
    assert engine.unsent == 1
    return take_profit


def cancel(hanging: HangingDesk, outcome: Outcome) -> Outcome:
    coid = ClientOrderId(str(outcome.client_order_id))
    return hanging.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid))


def test_a_kept_order_canceled_in_the_cool_off_is_canceled_at_once_and_never_sent(
    hanging: HangingDesk,
) -> None:
    take_profit = kept_take_profit(hanging)
    canceled = cancel(hanging, take_profit)
    assert (canceled.ok, canceled.status) == (True, "CANCELED"), canceled
    assert hanging.engine.unsent == 0
    hanging.link.release()
    hanging.clock.advance(timedelta(seconds=30))  # past the cool-off
    hanging.quote(AAPL, "102")  # trades through the take-profit's limit
    hanging.quote(AAPL, "102")
    order = hanging.order(take_profit.client_order_id)
    assert order.status is OrderStatus.CANCELED, order.last_reason
    assert (order.last_reason or "").startswith("CANCELED_UNSENT"), order.last_reason
    assert hanging.engine.position(ACCOUNT, None, AAPL.id) == D(5)
    assert hanging.link.calls.count("submit") == 2  # the buy and the resting buy only


def test_a_kept_order_canceled_as_the_venue_comes_back_is_not_sent(
    hanging: HangingDesk,
) -> None:
    """The cool-off is over and no pump has run yet: the cancel is not sent to a venue that
    never had the order (it would refuse it, and the pump right after would send the order)."""
    take_profit = kept_take_profit(hanging)
    hanging.link.release()
    hanging.clock.advance(timedelta(seconds=30))
    assert cancel(hanging, take_profit).ok
    hanging.quote(AAPL, "102")
    hanging.quote(AAPL, "102")
    assert hanging.order(take_profit.client_order_id).status is OrderStatus.CANCELED
    assert hanging.engine.position(ACCOUNT, None, AAPL.id) == D(5)


def test_a_kept_order_the_trader_canceled_is_not_sent_after_a_restart(
    hanging: HangingDesk,
) -> None:
    take_profit = kept_take_profit(hanging)
    assert cancel(hanging, take_profit).ok
    hanging.link.release()
    hanging.clock.advance(timedelta(seconds=30))  # the venue is back, and a mark is heard
    hanging.quote(AAPL, "100")
    hanging.close()
    after = Desk(store=hanging.store)  # the process restarts
    after.quote(AAPL, "100")
    report = after.recover()
    after.quote(AAPL, "102")
    after.quote(AAPL, "102")
    assert after.engine.position(ACCOUNT, None, AAPL.id) == D(5), report
    assert after.order(str(take_profit.client_order_id)).status is OrderStatus.CANCELED


def kept_close_after_a_timed_out_sale(hanging: HangingDesk, sold: str) -> Outcome:
    """Long 5; a sale of ``sold`` gets no answer (the guard cools off, the sale hangs in its
    link); the kill switch's cancel of the sale and its close of the 5 are kept. The sale."""
    engine = hanging.engine
    assert engine.handle(submit(qty="5")).ok
    hanging.link.hang = {"submit"}
    sale = engine.handle(submit(OrderSide.SELL, qty=sold))
    assert sale.ok  # in flight: its outcome is unknown
    assert pull_kill_switch(engine, hanging.factory, hanging.clock, "ops", "venue hangs").ok
    assert engine.unsent == 2
    hanging.link.release()  # the sale reaches the venue and fills
    waited(lambda: hanging.link.done.count("submit") == 2, "the sale to reach the venue")
    hanging.clock.advance(timedelta(seconds=30))
    return sale


def close_order(hanging: HangingDesk) -> Order:
    with hanging.factory() as uow:
        (close,) = [o for o in uow.orders.list(ACCOUNT) if o.reduce_only]
    return close


def test_a_kept_close_whose_book_went_flat_meanwhile_is_canceled_unsent(
    hanging: HangingDesk,
) -> None:
    """The timed-out sale went through after all: once the venue answers, its fill is
    applied first, and the kept close (which on a venue without reduce-only orders would open
    a short of 5) is canceled, never sent."""
    sale = kept_close_after_a_timed_out_sale(hanging, sold="5")
    hanging.quote(AAPL, "100")
    assert hanging.order(sale.client_order_id).status is OrderStatus.FILLED
    assert hanging.engine.unsent == 0
    close = close_order(hanging)
    assert close.status is OrderStatus.CANCELED
    assert (close.last_reason or "").startswith("NOT_SENT"), close.last_reason
    assert hanging.link.calls.count("submit") == 2  # the close never went
    assert hanging.engine.position(ACCOUNT, None, AAPL.id) == D(0)


@pytest.mark.parametrize("reduce_only_venue", [True, False])
def test_a_kept_close_whose_book_shrank_meanwhile_closes_what_is_left(
    reduce_only_venue: bool,
) -> None:
    """The timed-out sale of 3 went through (long 2): the kept close of 5 is not sent (on a
    venue without reduce-only orders it would leave the account short 3), and one of 2 goes
    in its place, so the kill switch still leaves the account flat."""
    hanging = HangingDesk(reduce_only_venue=reduce_only_venue)
    try:
        kept_close_after_a_timed_out_sale(hanging, sold="3")
        hanging.quote(AAPL, "100")
        hanging.quote(AAPL, "100")
        assert hanging.engine.unsent == 0
        with hanging.factory() as uow:
            closes = {o.quantity.value: o for o in uow.orders.list(ACCOUNT) if o.reduce_only}
        assert sorted(closes) == [D(2), D(5)]
        assert closes[D(5)].status is OrderStatus.CANCELED
        assert "has 2 left to reduce" in (closes[D(5)].last_reason or "")
        assert closes[D(2)].status is OrderStatus.FILLED
        assert hanging.engine.position(ACCOUNT, None, AAPL.id) == D(0)  # not short 3, not long 2
    finally:
        hanging.close()


def test_a_stop_loss_kept_while_the_venue_was_down_still_closes_what_is_left() -> None:
    """Long 5 with a stop at 95; a sale of 3 by hand times out (the guard cools off). The mark
    falls through the stop: the exit (sell 5, reduce-only) is kept. The sale went through
    after all (long 2): once the venue answers, the 2 left are closed."""
    hanging = HangingDesk()
    try:
        engine = hanging.engine
        exits = ExitRunner(engine, hanging.factory, hanging.clock)
        assert engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95")))).ok
        hanging.link.hang = {"submit"}
        assert engine.handle(submit(OrderSide.SELL, qty="3")).ok  # in flight
        hanging.quote(AAPL, "94")
        (fired,) = exits.on_mark(AAPL.id, D(94))
        assert fired.ok, fired
        assert engine.unsent == 1  # the exit, kept
        hanging.link.release()  # the sale reaches the venue and fills
        waited(lambda: hanging.link.done.count("submit") == 2, "the sale to reach the venue")
        hanging.clock.advance(timedelta(seconds=30))
        for last in ("94", "93"):
            hanging.quote(AAPL, last)
            exits.on_mark(AAPL.id, D(last))
        assert engine.position(ACCOUNT, None, AAPL.id) == D(0)
    finally:
        hanging.close()


def test_a_write_that_fails_as_a_kept_close_is_settled_loses_nothing() -> None:
    """The kept close is to be canceled unsent; that write fails once (a full disk). The pump
    does not raise to its caller, and the next pump settles the close."""
    hanging = HangingDesk(failing=True)
    try:
        sale = kept_close_after_a_timed_out_sale(hanging, sold="5")
        sale_id = ClientOrderId(str(sale.client_order_id))

        def fail_after_the_sales_fill(item: object) -> None:
            if isinstance(item, OrderFilled) and item.client_order_id == sale_id:
                hanging.failing.fail_next = True  # the next write: the close's settling

        hanging.engine.subscribe(fail_after_the_sales_fill)
        hanging.engine.pump()  # must not raise
        assert close_order(hanging).status is OrderStatus.SUBMITTED  # its write failed
        assert hanging.engine.unsent == 1  # still kept
        hanging.quote(AAPL, "100")
        assert close_order(hanging).status is OrderStatus.CANCELED
        assert hanging.engine.unsent == 0
    finally:
        hanging.close()


def test_two_pumps_at_once_send_a_kept_close_once(hanging: HangingDesk) -> None:
    """Two threads pump as the venue comes back (the feed's and a command's): one sends the
    kept close, which the venue takes slowly; the other, waiting for the account meanwhile,
    does not send it again (the order, still SUBMITTED, would go twice)."""
    engine = hanging.engine
    assert engine.handle(submit(qty="5")).ok
    hanging.link.hang = {"cancel"}
    resting = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    assert resting.ok
    assert pull_kill_switch(engine, hanging.factory, hanging.clock, "ops", "venue hangs").ok
    assert engine.unsent == 1  # the close (the resting buy's cancel timed out: in flight)
    hanging.link.release()
    hanging.clock.advance(timedelta(seconds=30))
    hanging.link.hang = {"submit"}  # the venue now takes a submit slowly (within the timeout)
    hanging.link.rearm()
    threading.Timer(0.1, hanging.link.release).start()
    pumps = [threading.Thread(target=engine.pump) for _ in range(2)]
    for pump in pumps:
        pump.start()
    for pump in pumps:
        pump.join(timeout=10)
    engine.pump()
    assert hanging.link.calls.count("submit") == 3, hanging.link.calls  # buy, resting, close
    assert close_order(hanging).status is OrderStatus.FILLED
    assert engine.position(ACCOUNT, None, AAPL.id) == D(0)


def test_a_cancel_naming_another_account_leaves_a_kept_order_alone(hanging: HangingDesk) -> None:
    take_profit = kept_take_profit(hanging)
    coid = ClientOrderId(str(take_profit.client_order_id))
    refused = hanging.engine.handle(CancelOrder(account_id=STRANGER, client_order_id=coid))
    assert (refused.ok, refused.code) == (False, "ORDER_NOT_FOUND"), refused
    assert hanging.engine.unsent == 1  # still kept
    hanging.link.release()
    hanging.clock.advance(timedelta(seconds=30))
    hanging.quote(AAPL, "100")
    assert hanging.engine.unsent == 0
    assert hanging.order(take_profit.client_order_id).status is OrderStatus.ACCEPTED  # it went


def test_a_kept_order_is_not_modified_but_told_to_be_canceled_and_placed_again(
    hanging: HangingDesk,
) -> None:
    """The venue never had it: a modify would go to a venue that would refuse it, and leave
    the order PENDING_UPDATE, no longer to be sent."""
    take_profit = kept_take_profit(hanging)
    coid = ClientOrderId(str(take_profit.client_order_id))
    modify = ModifyOrder(account_id=ACCOUNT, client_order_id=coid, price=Price(D("102")))
    refused = hanging.engine.handle(modify)
    assert (refused.ok, refused.code) == (False, "ORDER_NOT_SENT"), refused
    kept = hanging.order(take_profit.client_order_id)
    assert (kept.status, kept.price) == (OrderStatus.SUBMITTED, Price(D("101")))
    assert hanging.engine.unsent == 1


def test_a_modify_of_an_order_whose_cancel_is_on_its_way_is_refused_not_raised(
    hanging: HangingDesk,
) -> None:
    engine = hanging.engine
    first = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="95"))
    second = engine.handle(submit(qty="1", kind=OrderType.LIMIT, px="94"))
    hanging.link.hang = {"cancel"}
    for placed in (first, second):
        assert cancel(hanging, placed).ok  # the first times out, the second is kept
    assert engine.unsent == 1
    coid = ClientOrderId(str(second.client_order_id))
    modify = ModifyOrder(account_id=ACCOUNT, client_order_id=coid, price=Price(D("93")))
    refused = engine.handle(modify)
    assert (refused.ok, refused.code) == (False, "ORDER_CANCEL_PENDING"), refused
    assert hanging.order(coid.value).price == Price(D("94"))


@pytest.mark.parametrize("failing", ["the replacement", "the original's cancel"])
def test_a_write_that_fails_as_a_kept_close_is_replaced_still_closes_the_rest(
    failing: str,
) -> None:
    """The kept close of 5 is to be replaced by one of 2 (the timed-out sale of 3 filled). One
    of the two writes fails once (a full disk): the close stays kept and a later pump closes
    the 2 left, with one replacement only."""
    hanging = HangingDesk(failing=True)
    try:
        sale = kept_close_after_a_timed_out_sale(hanging, sold="3")
        kept = close_order(hanging)
        rest = for_signal(ACCOUNT, f"rest:{kept.client_order_id}")

        def fail_once(item: object) -> None:
            if failing == "the replacement":  # the next write after the sale's fill
                armed = isinstance(item, OrderFilled) and item.client_order_id == ClientOrderId(
                    str(sale.client_order_id)
                )
            else:  # the next write after the replacement is stored
                armed = isinstance(item, OrderSubmitted) and item.client_order_id == rest
            if armed:
                hanging.failing.fail_next = True

        hanging.engine.subscribe(fail_once)
        hanging.engine.pump()  # must not raise
        assert hanging.engine.unsent == 1  # the close, still kept
        for _ in range(2):
            hanging.quote(AAPL, "100")
        assert hanging.engine.unsent == 0
        with hanging.factory() as uow:
            closes = sorted(
                (o.quantity.value, o.status) for o in uow.orders.list(ACCOUNT) if o.reduce_only
            )
        assert closes == [(D(2), OrderStatus.FILLED), (D(5), OrderStatus.CANCELED)], closes
        assert hanging.engine.position(ACCOUNT, None, AAPL.id) == D(0)
    finally:
        hanging.close()
