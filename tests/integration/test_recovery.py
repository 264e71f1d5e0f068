"""After a restart, an order the paper exchange never acknowledged (the process died between
storing it and handing it over) is sent again, unless trading has stopped for it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.adapters.brokers.paper.broker import PaperBroker
from algodesk.adapters.brokers.paper.config import PAPER
from algodesk.domain.commands import SetTradingState
from algodesk.domain.events import OrderEvent
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.risk.base import TradingState
from algodesk.ports.broker import VenueUnavailableError
from algodesk.services.recovery import recover_paper
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, Desk, funded_desk, submit


class DiesBeforeTheVenue:
    """The process dies after the order is stored, before the venue has it."""

    def __init__(self, inner: PaperBroker) -> None:
        self.venue = inner.venue
        self._inner = inner

    def submit(self, order: Order) -> None:
        raise VenueUnavailableError("killed")

    def cancel(self, order: Order) -> None:
        self._inner.cancel(order)

    def modify(self, order: Order, *args: object) -> None:
        raise VenueUnavailableError("killed")

    def drain(self) -> list[OrderEvent]:
        return self._inner.drain()


def crashed_with_an_order_in_flight() -> Desk:
    before = funded_desk(venue=DiesBeforeTheVenue)  # type: ignore[arg-type]
    outcome = before.engine.handle(submit(qty="10"))
    assert outcome.ok  # the caller was told it was accepted
    assert before.order(str(outcome.client_order_id)).status is OrderStatus.SUBMITTED
    after = Desk(store=before.store)
    after.quote(AAPL, "101")
    return after


def recover(desk: Desk) -> str:
    return recover_paper(
        desk.engine, desk.factory, desk.clock, PAPER, desk.paper.restore, desk.paper.hold_positions
    )


def test_an_order_lost_in_flight_is_sent_again_and_fills() -> None:
    desk = crashed_with_an_order_in_flight()
    assert "1 never acknowledged (1 sent again, 0 rejected)" in recover(desk)
    held = desk.ledger.summary(ACCOUNT).positions[AAPL.id]
    assert held.quantity == Decimal(10)
    assert desk.ledger.verify().ok


@pytest.mark.parametrize("state", [TradingState.HALTED, TradingState.REDUCING])
def test_an_order_lost_in_flight_is_rejected_once_trading_has_stopped(
    state: TradingState,
) -> None:
    desk = crashed_with_an_order_in_flight()
    assert desk.engine.handle(SetTradingState(account_id=ACCOUNT, state=state, reason="t")).ok
    assert "(0 sent again, 1 rejected)" in recover(desk)
    assert AAPL.id not in desk.ledger.summary(ACCOUNT).positions
    (order,) = desk.store.orders.values()
    assert order.status is OrderStatus.REJECTED
    assert order.last_reason is not None
    assert order.last_reason.startswith("NOT_FOUND_AT_VENUE")
