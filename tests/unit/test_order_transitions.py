"""Every (state, event) pair of the order state table: legal ones move, illegal ones raise.

The expected table is written here independently of ``algodesk.domain.orders.TRANSITIONS``,
as a grid a person can read and check against ``execution-rules.md`` §b.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import ClientOrderId, TradeId, VenueOrderId
from algodesk.domain.orders import (
    ConflictingFillError,
    InvalidOrderTransition,
    Order,
    OrderStatus,
    OrderType,
    OverfillError,
)
from algodesk.domain.values import Price, Quantity, price, quantity
from tests.conftest import AAPL, ACCOUNT, T0, make_fill

COID = ClientOrderId("ORD1")

# Cells: a target state; "-" illegal (raises); "=" allowed, state unchanged; "<" back to the
# state before the pending request (ACCEPTED in these paths).
GRID = """
state            Denied    Submitted Accepted  Rejected  Triggered PendUpd   PendCxl   Updated   ModRej    CxlRej    Canceled  Expired   FillPart  FillAll
INITIALIZED      DENIED    SUBMITTED -         -         -         -         -         -         -         -         -         -         -         -
DENIED           -         -         -         -         -         -         -         -         -         -         -         -         -         -
SUBMITTED        -         -         ACCEPTED  REJECTED  -         P_UPDATE  P_CANCEL  -         -         -         CANCELED  -         PARTIAL   FILLED
ACCEPTED         -         -         -         REJECTED  TRIGGERED P_UPDATE  P_CANCEL  ACCEPTED  -         -         CANCELED  EXPIRED   PARTIAL   FILLED
TRIGGERED        -         -         -         REJECTED  -         P_UPDATE  P_CANCEL  TRIGGERED -         -         CANCELED  EXPIRED   PARTIAL   FILLED
PARTIALLY_FILLED -         -         -         -         -         P_UPDATE  P_CANCEL  PARTIAL   =         =         CANCELED  EXPIRED   PARTIAL   FILLED
FILLED           -         -         -         -         -         -         -         -         =         =         -         -         -         -
PENDING_UPDATE   -         -         P_UPDATE  REJECTED  P_UPDATE  P_UPDATE  P_CANCEL  <         <         -         CANCELED  EXPIRED   PARTIAL   FILLED
PENDING_CANCEL   -         -         P_CANCEL  REJECTED  P_CANCEL  -         P_CANCEL  P_CANCEL  =         <         CANCELED  EXPIRED   PARTIAL   FILLED
CANCELED         -         -         -         -         -         -         -         -         =         =         -         -         CANCELED  FILLED
REJECTED         -         -         -         -         -         -         -         -         -         -         -         -         REJECTED  FILLED
EXPIRED          -         -         -         -         -         -         -         -         =         =         -         -         EXPIRED   FILLED
"""

ALIASES = {
    "P_UPDATE": OrderStatus.PENDING_UPDATE,
    "P_CANCEL": OrderStatus.PENDING_CANCEL,
    "PARTIAL": OrderStatus.PARTIALLY_FILLED,
}

_trade = iter(range(1000, 10**6))


def _fill(order: Order, qty: Decimal) -> OrderFilled:
    n = next(_trade)
    fill = make_fill(n, OrderSide.BUY, str(qty), "100", coid=COID.value)
    return OrderFilled(client_order_id=COID, ts=fill.ts, fill=fill)


def _ev(kind: type[OrderEvent], **kw: object) -> Callable[[Order], OrderEvent]:
    return lambda _order: kind(client_order_id=COID, ts=T0 + timedelta(seconds=1), **kw)


def _fill_part(order: Order) -> OrderEvent:
    return _fill(order, Decimal(1))


def _fill_all(order: Order) -> OrderEvent:
    leaves = order.quantity.value - order.filled_quantity.value
    return _fill(order, max(leaves, Decimal(1)))  # terminal states: any fill will do


EVENTS: dict[str, Callable[[Order], OrderEvent]] = {
    "Denied": _ev(OrderDenied, code="MAX_NOTIONAL_EXCEEDED", message="notional=2, limit=1"),
    "Submitted": _ev(OrderSubmitted),
    "Accepted": _ev(OrderAccepted, venue_order_id=VenueOrderId("V1")),
    "Rejected": _ev(OrderRejected, reason="insufficient margin"),
    "Triggered": _ev(OrderTriggered),
    "PendUpd": _ev(OrderPendingUpdate),
    "PendCxl": _ev(OrderPendingCancel),
    "Updated": _ev(OrderUpdated, price=price("99.5")),
    "ModRej": _ev(OrderModifyRejected, reason="price band"),
    "CxlRej": _ev(OrderCancelRejected, reason="order not open"),
    "Canceled": _ev(OrderCanceled),
    "Expired": _ev(OrderExpired),
    "FillPart": _fill_part,
    "FillAll": _fill_all,
}

PATHS: dict[OrderStatus, list[str]] = {
    OrderStatus.INITIALIZED: [],
    OrderStatus.DENIED: ["Denied"],
    OrderStatus.SUBMITTED: ["Submitted"],
    OrderStatus.ACCEPTED: ["Submitted", "Accepted"],
    OrderStatus.TRIGGERED: ["Submitted", "Accepted", "Triggered"],
    OrderStatus.PARTIALLY_FILLED: ["Submitted", "Accepted", "FillPart"],
    OrderStatus.FILLED: ["Submitted", "Accepted", "FillAll"],
    OrderStatus.PENDING_UPDATE: ["Submitted", "Accepted", "PendUpd"],
    OrderStatus.PENDING_CANCEL: ["Submitted", "Accepted", "PendCxl"],
    OrderStatus.CANCELED: ["Submitted", "Accepted", "Canceled"],
    OrderStatus.REJECTED: ["Submitted", "Rejected"],
    OrderStatus.EXPIRED: ["Submitted", "Accepted", "Expired"],
}


def _parse_grid() -> list[tuple[OrderStatus, str, str]]:
    lines = [line.split() for line in GRID.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    cases = []
    for row in rows:
        state = OrderStatus(row[0])
        assert len(row) - 1 == len(header), f"grid row {row[0]} has {len(row) - 1} cells"
        cases.extend((state, event, cell) for event, cell in zip(header, row[1:], strict=True))
    return cases


CASES = _parse_grid()


def new_order(order_type: OrderType = OrderType.STOP_LIMIT) -> Order:
    return Order.create(
        client_order_id=COID,
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=OrderSide.BUY,
        order_type=order_type,
        quantity=quantity("10"),
        price=price("100") if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
        trigger_price=price("101")
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        else None,
        created_at=T0,
    )


def order_in(state: OrderStatus) -> Order:
    order = new_order()
    for name in PATHS[state]:
        order.apply(EVENTS[name](order))
    assert order.status is state
    return order


def test_the_grid_covers_every_state_and_every_event() -> None:
    assert {s for s, _, _ in CASES} == set(OrderStatus)
    assert {e for _, e, _ in CASES} == set(EVENTS)
    assert len(CASES) == len(OrderStatus) * len(EVENTS)


@pytest.mark.parametrize(("state", "event", "cell"), CASES, ids=[f"{s}-{e}" for s, e, _ in CASES])
def test_state_event_pair(state: OrderStatus, event: str, cell: str) -> None:
    order = order_in(state)
    before = (order.status, order.filled_quantity, order.quantity)
    ev = EVENTS[event](order)
    if cell == "-":
        with pytest.raises(InvalidOrderTransition, match=f"not allowed in state {state}"):
            order.apply(ev)
        assert (order.status, order.filled_quantity, order.quantity) == before
        return
    assert order.apply(ev) is True
    if cell == "=":
        expected = state
    elif cell == "<":
        expected = OrderStatus.ACCEPTED
    else:
        expected = ALIASES.get(cell) or OrderStatus(cell)
    assert order.status is expected


def test_a_fill_after_a_cancel_is_booked_and_can_complete_the_order() -> None:
    order = order_in(OrderStatus.PARTIALLY_FILLED)  # 1 of 10 filled
    order.apply(EVENTS["Canceled"](order))
    order.apply(_fill(order, Decimal(4)))
    assert order.status is OrderStatus.CANCELED
    assert order.filled_quantity == Quantity(Decimal(5))
    order.apply(_fill(order, Decimal(5)))
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == order.quantity


def test_a_late_acceptance_during_a_pending_cancel_is_remembered() -> None:
    order = order_in(OrderStatus.SUBMITTED)
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["Accepted"](order))
    assert order.status is OrderStatus.PENDING_CANCEL
    assert order.venue_order_id == VenueOrderId("V1")
    order.apply(EVENTS["CxlRej"](order))
    assert order.status is OrderStatus.ACCEPTED


def test_a_trigger_during_a_pending_modify_is_where_a_rejected_modify_returns() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(EVENTS["PendUpd"](order))
    order.apply(EVENTS["Triggered"](order))
    order.apply(EVENTS["ModRej"](order))
    assert order.status is OrderStatus.TRIGGERED


def test_a_modify_confirmed_while_a_cancel_is_pending_applies_its_terms() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(EVENTS["PendUpd"](order))
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["Updated"](order))
    assert order.status is OrderStatus.PENDING_CANCEL
    assert order.price == Price(Decimal("99.5"))
    order.apply(EVENTS["CxlRej"](order))
    assert order.status is OrderStatus.ACCEPTED


def test_a_late_fill_after_expiry_is_booked() -> None:
    order = order_in(OrderStatus.EXPIRED)
    order.apply(_fill(order, Decimal(2)))
    assert order.status is OrderStatus.EXPIRED
    assert order.filled_quantity == Quantity(Decimal(2))


def test_a_failed_cancel_returns_to_the_state_before_it() -> None:
    order = order_in(OrderStatus.PARTIALLY_FILLED)
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["CxlRej"](order))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.last_reason == "order not open"


def test_a_cancel_rejected_during_a_pending_modify_returns_to_the_modify_then_to_live() -> None:
    order = order_in(OrderStatus.TRIGGERED)
    order.apply(EVENTS["PendUpd"](order))
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["CxlRej"](order))
    assert order.status is OrderStatus.PENDING_UPDATE
    order.apply(EVENTS["Updated"](order))
    assert order.status is OrderStatus.TRIGGERED
    assert order.price == Price(Decimal("99.5"))


def test_a_modify_rejected_after_a_pending_cancel_leaves_the_cancel_waiting() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(EVENTS["PendUpd"](order))
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["ModRej"](order))
    assert order.status is OrderStatus.PENDING_CANCEL
    order.apply(EVENTS["CxlRej"](order))
    assert order.status is OrderStatus.ACCEPTED


def test_a_part_fill_while_a_cancel_waits_keeps_the_cancel_outstanding_until_the_venue_answers() -> (
    None
):
    order = order_in(OrderStatus.ACCEPTED)
    assert order.outstanding == []
    order.apply(EVENTS["PendCxl"](order))
    assert order.outstanding == [OrderStatus.PENDING_CANCEL]
    order.apply(EVENTS["FillPart"](order))
    assert order.status is OrderStatus.PARTIALLY_FILLED  # a fill sets the state
    assert order.outstanding == [OrderStatus.PENDING_CANCEL]  # the cancel still waits
    order.apply(EVENTS["FillPart"](order))
    assert order.outstanding == [OrderStatus.PENDING_CANCEL]
    rejected = order.clone()
    rejected.apply(EVENTS["CxlRej"](rejected))
    assert (rejected.status, rejected.outstanding) == (OrderStatus.PARTIALLY_FILLED, [])
    order.apply(EVENTS["Canceled"](order))
    assert (order.status, order.outstanding) == (OrderStatus.CANCELED, [])


def test_a_part_fill_while_a_modify_and_a_cancel_wait_keeps_both_until_answered() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(EVENTS["PendUpd"](order))
    order.apply(EVENTS["PendCxl"](order))
    order.apply(EVENTS["FillPart"](order))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.outstanding == [OrderStatus.PENDING_UPDATE, OrderStatus.PENDING_CANCEL]
    order.apply(EVENTS["Updated"](order))  # the modify confirmed: the cancel still waits
    assert order.outstanding == [OrderStatus.PENDING_CANCEL]
    order.apply(EVENTS["FillAll"](order))
    assert (order.status, order.outstanding) == (OrderStatus.FILLED, [])


def test_an_exact_replay_of_a_fill_is_dropped() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    event = _fill(order, Decimal(3))
    assert order.apply(event) is True
    assert order.apply(event) is False
    assert order.filled_quantity == Quantity(Decimal(3))
    # Replays are dropped even once the order is terminal.
    order.apply(_fill(order, Decimal(7)))
    assert order.apply(event) is False
    assert order.status is OrderStatus.FILLED


def test_a_known_trade_id_with_different_data_is_an_incident() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    event = _fill(order, Decimal(3))
    order.apply(event)
    changed = Fill(**{**_as_dict(event.fill), "quantity": quantity("4")})
    with pytest.raises(ConflictingFillError, match="now reported as BUY 4"):
        order.apply(OrderFilled(client_order_id=COID, ts=event.ts, fill=changed))
    assert order.filled_quantity == Quantity(Decimal(3))


def _as_dict(fill: Fill) -> dict[str, object]:
    return {name: getattr(fill, name) for name in Fill.__dataclass_fields__}


def test_an_overfill_is_refused_and_changes_nothing() -> None:
    order = order_in(OrderStatus.PARTIALLY_FILLED)
    with pytest.raises(OverfillError, match="would fill 11 of 10"):
        order.apply(_fill(order, Decimal(10)))
    assert order.filled_quantity == Quantity(Decimal(1))
    assert order.status is OrderStatus.PARTIALLY_FILLED


def test_average_fill_price_is_quantity_weighted() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    a = make_fill(1, OrderSide.BUY, "4", "100", coid=COID.value)
    b = make_fill(2, OrderSide.BUY, "6", "105", coid=COID.value)
    order.apply(OrderFilled(client_order_id=COID, ts=a.ts, fill=a))
    order.apply(OrderFilled(client_order_id=COID, ts=b.ts, fill=b))
    assert order.avg_fill_price == Price(Decimal("103"))


def test_a_fill_of_another_instrument_or_side_is_refused() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    wrong_side = make_fill(5, OrderSide.SELL, "1", "100", coid=COID.value)
    with pytest.raises(Exception, match="expected a BUY fill"):
        order.apply(OrderFilled(client_order_id=COID, ts=wrong_side.ts, fill=wrong_side))


def test_an_event_for_another_order_is_refused() -> None:
    order = order_in(OrderStatus.SUBMITTED)
    with pytest.raises(InvalidOrderTransition, match="is for order OTHER"):
        order.apply(
            OrderAccepted(
                client_order_id=ClientOrderId("OTHER"), ts=T0, venue_order_id=VenueOrderId("V")
            )
        )


def test_a_modify_confirmation_records_the_new_venue_order_id() -> None:
    order = order_in(OrderStatus.ACCEPTED)
    order.apply(OrderUpdated(client_order_id=COID, ts=T0, venue_order_id=VenueOrderId("V2")))
    assert order.venue_order_ids == [VenueOrderId("V1"), VenueOrderId("V2")]
    assert order.venue_order_id == VenueOrderId("V2")


@pytest.mark.parametrize(
    ("order_type", "kwargs", "message"),
    [
        (OrderType.LIMIT, {}, "takes a limit price"),
        (OrderType.MARKET, {"price": price("1")}, "takes no limit price"),
        (OrderType.STOP, {}, "takes a trigger price"),
        (OrderType.STOP_LIMIT, {"price": price("1")}, "takes a trigger price"),
    ],
)
def test_an_order_of_inconsistent_shape_is_refused(
    order_type: OrderType, kwargs: dict[str, Price], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Order.create(
            client_order_id=COID,
            account_id=ACCOUNT,
            instrument_id=AAPL.id,
            side=OrderSide.BUY,
            order_type=order_type,
            quantity=quantity("1"),
            created_at=T0,
            **kwargs,
        )


def test_gtd_needs_an_expire_time_and_only_gtd_has_one() -> None:
    from algodesk.domain.orders import TimeInForce

    with pytest.raises(ValueError, match="expire_time goes with GTD"):
        Order.create(
            client_order_id=COID,
            account_id=ACCOUNT,
            instrument_id=AAPL.id,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=quantity("1"),
            created_at=T0,
            time_in_force=TimeInForce.GTD,
        )


def test_trade_ids_are_typed() -> None:
    assert TradeId("T1") != ClientOrderId("T1")
