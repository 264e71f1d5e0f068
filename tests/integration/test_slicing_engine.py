"""Freeze slicing around the engine: a flatten closes in slices, a retry after a crash midway
closes the rest with fresh ids, children wait for the order rate, and a halt while they wait
stops the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.domain.commands import Flatten, SetTradingState, submit_payload
from algodesk.domain.events import OrderDenied, OrderSubmitted
from algodesk.domain.identifiers import AccountId, InstrumentId
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.risk.base import RiskLimits, TradingState
from algodesk.domain.values import Currency, money
from algodesk.ports.broker import BrokerPort
from algodesk.services.slicing import OrderSlicer, sliced_key
from algodesk.testing.brokers import ForwardingBroker
from tests.conftest import ACCOUNT, T0
from tests.integration.test_engine import USD, Desk, submit

D = Decimal
LOTS = Instrument(
    InstrumentId("LOTS.PAPER"),
    AssetClass.EQUITY,
    Currency("USD"),
    D("0.05"),
    lot_size=D(65),
    freeze_quantity=D(1800),
)


class _Crash(BaseException):
    """The process dies (not an error the engine handles)."""


class CrashingVenue(ForwardingBroker):
    """Forwards to the paper exchange; when armed, dies on the ``armed_at``-th submit."""

    def __init__(self, inner: BrokerPort) -> None:
        super().__init__(inner)
        self.armed_at: int | None = None
        self.submits = 0

    def _before(self, name: str) -> None:
        super()._before(name)
        if name == "submit":
            self.submits += 1
            if self.submits == self.armed_at:
                raise _Crash


def lots_desk(
    limits: RiskLimits | None = None, venue: Callable[[PaperBroker], BrokerPort] | None = None
) -> Desk:
    made = Desk(limits=limits or RiskLimits(max_orders_per_second=None), venue=venue)
    made.market.instruments[LOTS.id] = LOTS
    made.ledger.deposit(ACCOUNT, money("1000000", USD), key="seed")
    made.quote(LOTS, "10")
    return made


def crashing_desk() -> tuple[Desk, CrashingVenue]:
    made: list[CrashingVenue] = []

    def wrap(paper: PaperBroker) -> BrokerPort:
        made.append(CrashingVenue(paper))
        return made[0]

    return lots_desk(venue=wrap), made[0]


def advancing(desk: Desk, slept: list[float]) -> OrderSlicer:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        desk.clock.advance(timedelta(seconds=seconds))

    return OrderSlicer(desk.engine, desk.market, sleep=sleep)


def orders(desk: Desk) -> list[Order]:
    """The account's orders in the order the engine made them (by their first event)."""
    made = [e.client_order_id for e in desk.events if isinstance(e, OrderSubmitted | OrderDenied)]
    with desk.factory() as uow:
        return sorted(uow.orders.list(ACCOUNT), key=lambda o: made.index(o.client_order_id))


def position(desk: Desk) -> Decimal:
    held = desk.ledger.summary(ACCOUNT).positions.get(LOTS.id)
    return held.quantity if held else D(0)


def test_a_flatten_closes_a_position_above_the_freeze_quantity_in_slices() -> None:
    desk = lots_desk()
    assert (
        OrderSlicer(desk.engine, desk.market)
        .submit(submit(qty="3640", instrument=LOTS.id, idempotency_key="in"))
        .ok
    )
    assert position(desk) == D(3640)

    done = desk.engine.handle(Flatten(account_id=ACCOUNT, idempotency_key="out"))
    assert done.ok
    assert done.message == (
        "canceled 0 orders, closing 1 positions (3 orders in freeze-quantity slices)"
    )
    closers = [o for o in orders(desk) if o.reduce_only]
    assert [o.quantity.value for o in closers] == [D(1755), D(1755), D(130)]
    assert all(o.quantity.value <= D(1800) for o in closers)
    assert {o.status for o in closers} == {OrderStatus.FILLED}
    assert position(desk) == D(0)


def test_a_flatten_retried_after_a_crash_midway_closes_the_rest_with_fresh_ids() -> None:
    desk, venue = crashing_desk()
    assert (
        OrderSlicer(desk.engine, desk.market)
        .submit(submit(qty="3640", instrument=LOTS.id, idempotency_key="in"))
        .ok
    )
    venue.armed_at = venue.submits + 2  # dies handing over the second closing slice
    command = Flatten(account_id=ACCOUNT, idempotency_key="out")
    with pytest.raises(_Crash):
        desk.engine.handle(command)

    venue.armed_at = None
    again = desk.engine.handle(command)  # never journaled: it runs again
    assert again.ok, again
    assert not again.replayed
    closers = [o for o in orders(desk) if o.reduce_only]
    # The first slice filled, the second is in flight (stored, never acknowledged), and only
    # the 130 still uncovered is sent, under an id the first run did not use.
    assert [o.quantity.value for o in closers] == [D(1755), D(1755), D(130)]
    assert len({o.client_order_id for o in closers}) == 3
    assert [o.status for o in closers] == [
        OrderStatus.FILLED,
        OrderStatus.SUBMITTED,
        OrderStatus.FILLED,
    ]
    assert position(desk) == D(1755)  # the in-flight slice's part


def test_children_wait_for_the_order_rate_and_go_one_second_apart() -> None:
    desk = lots_desk(RiskLimits(max_orders_per_second=2))
    slept: list[float] = []
    result = advancing(desk, slept).submit(submit(qty="3640", instrument=LOTS.id))
    assert result.ok, result.summary()
    made = [o.created_at for o in orders(desk)]
    assert made == [T0, T0, T0 + timedelta(seconds=1)]
    assert sum(slept) == pytest.approx(1.0)
    assert position(desk) == D(3640)


def test_a_halt_while_children_wait_stops_the_rest() -> None:
    desk = lots_desk(RiskLimits(max_orders_per_second=2))

    def halt_then_wait(seconds: float) -> None:
        desk.engine.handle(
            SetTradingState(account_id=ACCOUNT, state=TradingState.HALTED, reason="kill")
        )
        desk.clock.advance(timedelta(seconds=seconds))

    slicer = OrderSlicer(desk.engine, desk.market, sleep=halt_then_wait)
    result = slicer.submit(submit(qty="3640", instrument=LOTS.id, idempotency_key="big"))
    summary = result.summary()
    assert (summary.ok, summary.code) == (False, "TRADING_HALTED")
    assert summary.message.startswith("child 3 of 3 (130) refused TRADING_HALTED")
    assert summary.message.endswith("2 of 3 children sent (3510 of 3640), 0 not sent")
    assert position(desk) == D(3510)


def test_an_empty_list_passes_and_a_list_of_two_accounts_is_refused() -> None:
    desk = lots_desk()
    assert desk.engine.check_list([]) is None
    other = replace(submit(qty="65", instrument=LOTS.id), account_id=AccountId("other"))
    with pytest.raises(ValueError, match="one account"):
        desk.engine.check_list([submit(qty="65", instrument=LOTS.id), other])


@pytest.mark.parametrize(
    ("children", "problem"),
    [
        (["1755", "1755", "1755", "1755"], "do not add up to quantity=3640"),
        (["1820", "1820", "0"], "do not add up"),
        (["3705", "-65"], "do not add up"),
        ([1820, 1820], "expected child quantities as text"),
        (["1820"], "expected two or more child quantities"),
    ],
)
def test_a_sliced_record_whose_children_are_not_the_order_sends_nothing(
    children: list[object], problem: str
) -> None:
    """A damaged record resumed as it stands would trade what was never asked (four children
    of 1755 for an order of 3640): it is refused, and nothing is sent under the key."""
    desk = lots_desk(RiskLimits(max_orders_per_second=None))
    command = submit(qty="3640", instrument=LOTS.id, idempotency_key="k")
    record = {"command": submit_payload(command), "children": children}
    desk.engine.note(ACCOUNT, sliced_key("k"), "OrderSliced", record)
    result = OrderSlicer(desk.engine, desk.market).submit(command)
    assert not result.ok
    (refused,) = result.results
    assert refused is not None
    assert refused.code == "SLICED_ORDER_UNREADABLE"
    assert problem in refused.message
    assert position(desk) == 0


def test_a_sliced_and_an_unsliced_request_under_one_key_at_once_trade_once() -> None:
    """B (65, one order) asks about the key while A (3,640, sliced) is deciding: B waits
    for A's decision, then finds the key sliced for another order and is refused. (B used to
    find nothing yet and trade too: 3,705 for one key.)"""
    desk = lots_desk(RiskLimits(max_orders_per_second=None))
    slicer = OrderSlicer(desk.engine, desk.market)
    b_started = threading.Event()
    real = desk.engine.recorded

    def recorded(account_id: AccountId, key: str, **kw: object) -> object:
        found = real(account_id, key, **kw)  # type: ignore[arg-type]
        if threading.current_thread().name == "A":  # A found k free and will slice it
            assert b_started.wait(5)
            time.sleep(0.2)  # B looks for a plan and sends now, before A notes its plan
        return found

    desk.engine.recorded = recorded  # type: ignore[assignment, method-assign]
    results: dict[str, object] = {}

    def run(name: str, qty: str) -> None:
        if name == "B":
            b_started.set()
        command = submit(qty=qty, instrument=LOTS.id, idempotency_key="k")
        results[name] = slicer.submit(command)

    a = threading.Thread(target=run, args=("A", "3640"), name="A")
    a.start()
    b = threading.Thread(target=run, args=("B", "65"), name="B")
    b.start()
    a.join(10)
    b.join(10)
    assert position(desk) == D(3640)
    refused = results["B"].results[0]  # type: ignore[attr-defined]
    assert refused.code == "IDEMPOTENCY_KEY_REUSED", refused


def test_an_order_sliced_before_is_resumed_whole_under_a_lower_slice_cap() -> None:
    """Its children were decided when it was sliced: a desk restarted with a lower
    ``max_slices`` sends them all, not TOO_MANY_SLICES with some already out."""
    desk = lots_desk(RiskLimits(max_orders_per_second=None))
    command = submit(qty="3640", instrument=LOTS.id, idempotency_key="k")
    plan = {"command": submit_payload(command), "children": ["1755", "1755", "130"]}
    desk.engine.note(ACCOUNT, sliced_key("k"), "OrderSliced", plan)  # sliced, none sent yet
    result = OrderSlicer(desk.engine, desk.market, max_slices=2).submit(command)
    assert result.ok, result.summary()
    assert position(desk) == D(3640)
