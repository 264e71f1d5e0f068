"""An exit that fires clears the way through the owner's resting reduce-only orders (from
review probes): only resting ones, as few as needed, none when the exit would be denied anyway,
and only those really canceled are journaled."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.adapters.storage.memory.store import InMemoryUnitOfWork
from algodesk.domain.commands import CancelOrder, Flatten
from algodesk.domain.events import OrderAccepted, OrderCanceled, OrderEvent
from algodesk.domain.exits import ExitPlan
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import BotId, ClientOrderId, VenueOrderId
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money, price
from algodesk.ports.broker import VenueUnavailableError
from algodesk.testing.brokers import ForwardingBroker
from tests.conftest import ACCOUNT
from tests.integration.test_engine import AAPL, PAPER, USD, Desk, funded_desk, submit

D = Decimal
SELL = OrderSide.SELL
LIMIT = OrderType.LIMIT


def mark(desk: Desk, last: str) -> list[object]:
    desk.quote(AAPL, last)
    return list(desk.exits.on_mark(AAPL.id, D(last)))


def held(desk: Desk, bot: BotId | None = None) -> Decimal:
    return desk.engine.position(ACCOUNT, bot, AAPL.id)


def test_a_reduce_only_order_of_no_bot_with_nothing_in_its_book_blocks_no_bots_stop() -> None:
    desk = funded_desk()
    alpha = BotId("alpha")
    desk.ledger.allocate(ACCOUNT, alpha, money("20000", USD))
    assert desk.engine.handle(
        submit(qty="10", bot_id=alpha, exits=ExitPlan(stop_loss=price("95")))
    ).ok
    # The gate lets it through on the account's 10; its own book holds nothing: canceled.
    own = submit(side=SELL, qty="10", kind=LIMIT, px="105", reduce_only=True)
    assert desk.engine.handle(own).ok
    (outcome,) = mark(desk, "94")
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def alpha_with_a_stop() -> tuple[Desk, BotId, BotId]:
    """A desk where bot alpha holds 10 with a stop-loss at 95, and bot beta is funded."""
    desk = funded_desk()
    alpha, beta = BotId("alpha"), BotId("beta")
    for bot in (alpha, beta):
        desk.ledger.allocate(ACCOUNT, bot, money("20000", USD))
    assert desk.engine.handle(
        submit(qty="10", bot_id=alpha, exits=ExitPlan(stop_loss=price("95")))
    ).ok
    return desk, alpha, beta


class CancelsUnanswered(ForwardingBroker):
    """A remote venue that has not answered cancels yet (they stay pending)."""

    def cancel(self, order: Order) -> None:
        self._before("cancel")  # noted in ``calls``
        raise VenueUnavailableError("no answer yet")


def test_a_pending_cancel_counts_as_gone_so_no_more_is_canceled_than_needed() -> None:
    desk = funded_desk(venue=CancelsUnanswered)
    # held 10; the stop covers 5; two take-profits of 5 each: one of them must go, not both.
    assert desk.engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(qty="5")).ok
    desk.quote(AAPL, "100")
    assert held(desk) == D(10)
    older = desk.engine.handle(submit(side=SELL, qty="5", kind=LIMIT, px="105", reduce_only=True))
    newer = desk.engine.handle(submit(side=SELL, qty="5", kind=LIMIT, px="106", reduce_only=True))
    assert older.ok
    assert newer.ok
    mark(desk, "94")  # cancels the newer (pending), the stop waits
    assert desk.order(str(newer.client_order_id)).status is OrderStatus.PENDING_CANCEL
    mark(desk, "93.5")  # the stop tries again
    with InMemoryUnitOfWork(desk.store) as uow:
        records = [
            (r.kind, r.payload.get("canceled"))
            for r in uow.journal.records(ACCOUNT)
            if r.kind.startswith("Exit")
        ]
    assert desk.order(str(older.client_order_id)).status is OrderStatus.ACCEPTED, records


class MarketOrdersInFlight(ForwardingBroker):
    """A remote venue that has acknowledged reduce-only market orders but not filled them yet
    (an exit in flight); a cancel reaches them before the fill."""

    def __init__(self, inner, calls=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(inner, calls)
        self.held: dict[str, Order] = {}
        self.extra: list[OrderEvent] = []

    def submit(self, order: Order) -> None:
        if order.order_type is OrderType.MARKET and order.reduce_only:
            self.held[order.client_order_id.value] = order
            self.extra.append(
                OrderAccepted(
                    client_order_id=order.client_order_id,
                    ts=order.created_at,
                    venue_order_id=VenueOrderId(f"R-{order.client_order_id}"),
                )
            )
            return
        super().submit(order)

    def cancel(self, order: Order) -> None:
        if self.held.pop(order.client_order_id.value, None) is not None:
            coid = order.client_order_id
            self.extra.append(OrderCanceled(client_order_id=coid, ts=order.created_at))
            return
        super().cancel(order)

    def drain(self) -> list[OrderEvent]:
        extra, self.extra = self.extra, []
        return extra + super().drain()


def test_an_exit_never_cancels_another_exit_in_flight() -> None:
    desk = funded_desk(venue=MarketOrdersInFlight)
    a = desk.engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95"))))
    b = desk.engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95"))))
    assert a.ok
    assert b.ok
    assert held(desk) == D(10)
    tp = desk.engine.handle(submit(side=SELL, qty="5", kind=LIMIT, px="105", reduce_only=True))
    assert tp.ok
    mark(desk, "94")  # both stops fire: A's exit (5) goes; B's must not cancel A's exit
    with InMemoryUnitOfWork(desk.store) as uow:
        fired = [r.payload for r in uow.journal.records(ACCOUNT, "ExitFired")]
        orders = {o.client_order_id.value: o for o in uow.orders.list(open_only=False)}
    exits = [o for o in orders.values() if o.order_type is OrderType.MARKET and o.reduce_only]
    assert all(o.status is not OrderStatus.CANCELED for o in exits), fired


def test_an_exit_whose_cancel_used_the_order_rate_goes_at_the_next_mark() -> None:
    desk = funded_desk(RiskLimits(max_orders_per_second=1))
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    desk.clock.advance(timedelta(seconds=2))
    tp = desk.engine.handle(submit(side=SELL, qty="10", kind=LIMIT, px="105", reduce_only=True))
    assert tp.ok
    desk.clock.advance(timedelta(seconds=2))
    (first,) = mark(desk, "94")  # the cancel uses this second's one operation
    assert desk.order(str(tp.client_order_id)).status is OrderStatus.CANCELED
    assert first.code == "SUBMIT_RATE_EXCEEDED", first  # type: ignore[attr-defined]
    desk.clock.advance(timedelta(seconds=1))
    (outcome,) = mark(desk, "93")  # tried again at the next mark, with the way clear
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, None) == D(0)


def test_an_exit_denied_anyway_cancels_no_take_profit() -> None:
    desk, alpha, beta = alpha_with_a_stop()
    tp = desk.engine.handle(
        submit(side=SELL, qty="10", kind=LIMIT, px="105", reduce_only=True, bot_id=alpha)
    )
    assert tp.ok
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # account flat
    (_outcome,) = mark(desk, "94")
    # alpha still holds 10 (the stop is denied at the account, which beta's short makes flat):
    # its take-profit still rests
    assert held(desk, alpha) == D(10)
    assert desk.order(str(tp.client_order_id)).status is OrderStatus.ACCEPTED


def test_a_take_profit_that_filled_first_is_not_journaled_as_canceled() -> None:
    from algodesk.domain.matching import Quote

    desk = funded_desk()
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    tp = desk.engine.handle(submit(side=SELL, qty="10", kind=LIMIT, px="101", reduce_only=True))
    assert tp.ok
    # It fills at the venue; the engine has not heard of it yet.
    desk.paper.on_quote(Quote(AAPL.id, desk.clock.now(), D(102)))
    desk.market.set_mark(AAPL.id, D(94), desk.clock.now())
    desk.exits.on_mark(AAPL.id, D(94))
    with InMemoryUnitOfWork(desk.store) as uow:  # not sent: the position went meanwhile
        assert uow.journal.records(ACCOUNT, "ExitDenied") == []
        (retired,) = uow.journal.records(ACCOUNT, "ExitFired")
    assert desk.order(str(tp.client_order_id)).status is OrderStatus.FILLED
    assert "canceled" not in retired.payload, retired.payload
    # The position went while the stop was decided: retired with it, nothing more to send.
    assert retired.payload["kind"] == "POSITION_CLOSED", retired.payload
    assert desk.exits.on_mark(AAPL.id, D(93)) == []


def test_a_bots_stop_denied_at_the_flat_account_stays_armed_until_it_can_go() -> None:
    desk, alpha, beta = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=beta)).ok  # the account: 0
    (denied,) = mark(desk, "94")
    assert denied.code == "POSITION_NOT_FOUND", denied  # type: ignore[attr-defined]
    with InMemoryUnitOfWork(desk.store) as uow:
        assert uow.journal.records(ACCOUNT, "ExitFired") == []  # not done: alpha holds 10
    assert desk.engine.handle(submit(qty="10", bot_id=beta)).ok  # beta covers
    (outcome,) = mark(desk, "93")
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def test_a_stop_of_a_closed_position_never_sells_a_later_entry() -> None:
    """Alpha's entry with a stop is flattened; alpha then buys 10 with no exits. The old stop
    is retired with the position it protected (it sold the new 10 at the next fall)."""
    desk, alpha, _ = alpha_with_a_stop()
    assert desk.engine.handle(Flatten(account_id=ACCOUNT, bot_id=alpha)).ok
    assert desk.engine.handle(submit(qty="10", bot_id=alpha)).ok  # no exits this time
    assert mark(desk, "94") == []
    assert held(desk, alpha) == D(10)
    with InMemoryUnitOfWork(desk.store) as uow:
        (retired,) = uow.journal.records(ACCOUNT, "ExitFired")
    assert retired.payload["kind"] == "POSITION_CLOSED"
    restarted = Desk(store=desk.store)  # after a restart the old stop stays retired
    restarted.quote(AAPL, "94")
    assert restarted.exits.on_mark(AAPL.id, D(94)) == []
    assert restarted.engine.position(ACCOUNT, alpha, AAPL.id) == D(10)


def test_a_stop_of_a_position_still_partly_held_stays_armed() -> None:
    desk, alpha, _ = alpha_with_a_stop()
    assert desk.engine.handle(submit(side=SELL, qty="4", bot_id=alpha)).ok  # 6 left
    (outcome,) = mark(desk, "94")
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    assert held(desk, alpha) == D(0)


def test_a_stop_of_no_bot_is_not_retired_by_the_account_passing_flat() -> None:
    """The trader (no bot) holds 10 with a stop; alpha is short 10 (the account is flat): the
    trader's own sale of 1 takes the account short, not the trader's own book, so the stop
    stays armed."""
    desk = funded_desk()
    alpha = BotId("alpha")
    desk.ledger.allocate(ACCOUNT, alpha, money("20000", USD))
    assert desk.engine.handle(submit(qty="10", exits=ExitPlan(stop_loss=price("95")))).ok
    assert desk.engine.handle(submit(side=SELL, qty="10", bot_id=alpha)).ok
    assert desk.engine.handle(submit(side=SELL, qty="1")).ok
    with InMemoryUnitOfWork(desk.store) as uow:
        assert uow.journal.records(ACCOUNT, "ExitFired") == []


def test_a_take_profit_whose_cancel_is_on_its_way_is_not_canceled_again_by_a_stop() -> None:
    """A take-profit of the whole long is being canceled (no answer yet) when 2 of it fill:
    it is PARTIALLY_FILLED with its cancel still on its way. The stop that fires for the 3
    left counts it as on its way, as one PENDING_CANCEL: it sends no second cancel."""
    desk = funded_desk(
        paper_config=PaperBrokerConfig(max_fill_per_quote=D(2)), venue=CancelsUnanswered
    )
    venue = desk.engine._brokers[PAPER]  # type: ignore[attr-defined]  # the wrapper
    assert desk.engine.handle(submit(qty="5", exits=ExitPlan(stop_loss=price("95")))).ok
    for _ in range(3):  # 2 a quote
        mark(desk, "100")
    assert held(desk) == D(5)
    take_profit = desk.engine.handle(
        submit(OrderSide.SELL, qty="5", kind=OrderType.LIMIT, px="110", reduce_only=True)
    )
    assert take_profit.ok
    coid = ClientOrderId(str(take_profit.client_order_id))
    assert desk.engine.handle(CancelOrder(account_id=ACCOUNT, client_order_id=coid)).ok
    mark(desk, "111")  # 2 of it fill before the venue answers the cancel
    raced = desk.order(coid.value)
    assert (raced.status, raced.cancel_pending) == (OrderStatus.PARTIALLY_FILLED, True)
    assert held(desk) == D(3)
    (fired,) = mark(desk, "94")
    assert venue.calls.count("cancel") == 1, venue.calls  # not canceled again
    # The gates still count the take-profit (it may fill before its cancel is answered): the
    # stop is kept out until then, and tried again at the next marks.
    assert fired.code == "REDUCE_ONLY_WOULD_INCREASE", fired  # type: ignore[attr-defined]
