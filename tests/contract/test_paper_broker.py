"""The paper exchange through the venue port: what it reports for each request and each mark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from algodesk.adapters.brokers.paper.broker import NOTHING_TO_REDUCE, PaperBroker
from algodesk.adapters.brokers.paper.config import PaperBrokerConfig
from algodesk.bootstrap.calendars import desk_calendars
from algodesk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId, InstrumentId
from algodesk.domain.matching import Bar, FillModel, PercentFee, Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType, TimeInForce
from algodesk.domain.values import money, price, quantity
from algodesk.ports.broker import VenueRejectedError
from algodesk.testing.clock import FixedClock
from tests.conftest import AAPL, ACCOUNT, T0

D = Decimal


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def broker(clock: FixedClock) -> PaperBroker:
    model = FillModel(fees=PercentFee(maker_rate=D("0.001"), taker_rate=D("0.002")))
    return PaperBroker(PaperBrokerConfig(fill_model=model), {AAPL.id: AAPL}, clock.now)


def quote(last: str, bid: str | None = None, ask: str | None = None, at: int = 0) -> Quote:
    return Quote(
        AAPL.id,
        T0 + timedelta(seconds=at),
        D(last),
        D(bid) if bid else None,
        D(ask) if ask else None,
    )


def new(
    coid: str = "P1",
    side: OrderSide = OrderSide.BUY,
    kind: OrderType = OrderType.LIMIT,
    px: str | None = "100",
    trigger: str | None = None,
    qty: str = "10",
    tif: TimeInForce = TimeInForce.DAY,
    expire_time: datetime | None = None,
    reduce_only: bool = False,
) -> Order:
    order = Order.create(
        client_order_id=ClientOrderId(coid),
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=side,
        order_type=kind,
        quantity=quantity(qty),
        price=price(px) if px else None,
        trigger_price=price(trigger) if trigger else None,
        time_in_force=tif,
        expire_time=expire_time,
        created_at=T0,
        reduce_only=reduce_only,
    )
    order.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
    return order


def follow(order: Order, events: list[OrderEvent]) -> Order:
    """Apply the venue's events to our copy of the order, as the engine will."""
    for event in events:
        order.apply(event)
    return order


def test_a_market_order_fills_at_the_ask_as_taker(broker: PaperBroker) -> None:
    broker.on_quote(quote("100", "99.98", "100.02"))
    order = new(kind=OrderType.MARKET, px=None)
    broker.submit(order)
    events = broker.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    fill = events[1].fill  # type: ignore[attr-defined]
    assert (fill.price.value, fill.quantity.value) == (D("100.02"), D(10))
    assert fill.fee == money("2.0004", "USD")  # 0.2 % of 1000.20
    assert follow(order, events).status is OrderStatus.FILLED
    assert broker.working_orders == []


def test_a_fill_is_never_stamped_before_its_order(broker: PaperBroker, clock: FixedClock) -> None:
    broker.on_quote(quote("100", "99.98", "100.02"))  # the last mark, at T0
    clock.advance(timedelta(seconds=5))
    broker.submit(new(kind=OrderType.MARKET, px=None))
    accepted, filled = broker.drain()
    assert accepted.ts == T0 + timedelta(seconds=5)
    assert filled.ts == accepted.ts  # not the older quote's T0
    resting = new("P2", px="99")
    broker.submit(resting)
    broker.drain()
    broker.on_quote(quote("98", "97.98", "98.02", at=1))  # a lagging feed: stamped before it
    (late,) = broker.drain()
    assert late.ts == T0 + timedelta(seconds=5)


def test_a_limit_rests_until_the_price_trades_through(broker: PaperBroker) -> None:
    broker.on_quote(quote("101"))
    order = new(px="100")
    broker.submit(order)
    follow(order, broker.drain())
    assert order.status is OrderStatus.ACCEPTED
    broker.on_quote(quote("100", at=1))  # a touch: no fill with limit_fill_prob 0
    assert broker.drain() == []
    broker.on_quote(quote("99.99", at=2))
    events = broker.drain()
    assert follow(order, events).status is OrderStatus.FILLED
    fill = events[0].fill  # type: ignore[attr-defined]
    assert fill.price.value == D(100)  # the limit, never better
    assert fill.fee == money("1", "USD")  # maker: 0.1 % of 1000
    assert fill.ts == T0 + timedelta(seconds=2)


def test_a_stop_triggers_on_the_mark_and_fills(broker: PaperBroker) -> None:
    broker.on_quote(quote("100"))
    order = new(side=OrderSide.SELL, kind=OrderType.STOP, px=None, trigger="95")
    broker.submit(order)
    follow(order, broker.drain())
    broker.on_quote(quote("94.5", at=1))
    events = broker.drain()
    assert [type(e) for e in events] == [OrderTriggered, OrderFilled]
    assert follow(order, events).status is OrderStatus.FILLED


def test_cancel_and_modify_answer_with_events(broker: PaperBroker, clock: FixedClock) -> None:
    broker.on_quote(quote("101"))
    order = new(px="100")
    broker.submit(order)
    follow(order, broker.drain())
    order.apply(OrderPendingUpdate(client_order_id=order.client_order_id, ts=T0))
    broker.modify(order, price=price("99"))
    events = broker.drain()
    assert [type(e) for e in events] == [OrderUpdated]
    follow(order, events)
    assert (order.status, order.price) == (OrderStatus.ACCEPTED, price("99"))
    order.apply(OrderPendingCancel(client_order_id=order.client_order_id, ts=T0))
    broker.cancel(order)
    events = broker.drain()
    assert [type(e) for e in events] == [OrderCanceled]
    assert follow(order, events).status is OrderStatus.CANCELED
    with pytest.raises(VenueRejectedError, match="not working"):
        broker.cancel(order)


def test_an_ioc_remainder_is_canceled(broker: PaperBroker) -> None:
    broker.on_quote(quote("101", "100.9", "101.1"))
    order = new(px="100", tif=TimeInForce.IOC)
    broker.submit(order)
    events = broker.drain()
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled]
    assert broker.working_orders == []


def test_an_unknown_instrument_is_rejected(clock: FixedClock) -> None:
    broker = PaperBroker(PaperBrokerConfig(), {}, clock.now)
    order = new()
    broker.submit(order)
    (event,) = broker.drain()
    assert isinstance(event, OrderRejected)
    assert "unknown instrument AAPL.NASDAQ" in event.reason


def test_the_same_inputs_give_the_same_trades(clock: FixedClock) -> None:
    def run() -> list[tuple[str, Decimal]]:
        broker = PaperBroker(PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now)
        broker.on_quote(quote("100", "99.9", "100.1"))
        out = []
        for n in range(3):
            broker.submit(new(coid=f"P{n}", kind=OrderType.MARKET, px=None))
            out += [
                (e.fill.trade_id.value, e.fill.price.value)
                for e in broker.drain()
                if isinstance(e, OrderFilled)
            ]
        return out

    assert run() == run() == [("P0-1", D("100.1")), ("P1-1", D("100.1")), ("P2-1", D("100.1"))]


def test_trade_ids_stay_unique_across_a_restart(clock: FixedClock) -> None:
    """A new exchange (a restarted process) must not reuse the trade ids of the old one."""
    seen = set()
    for _restart in range(2):
        broker = PaperBroker(PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now)
        broker.on_quote(quote("100"))
        coid = f"R{len(seen)}"
        broker.submit(new(coid=coid, kind=OrderType.MARKET, px=None))
        trades = {e.fill.trade_id for e in broker.drain() if isinstance(e, OrderFilled)}
        assert not trades & seen
        seen |= trades


def test_a_second_submit_of_a_working_order_is_refused(broker: PaperBroker) -> None:
    order = new()
    broker.submit(order)
    with pytest.raises(VenueRejectedError, match="already working"):
        broker.submit(order)


def test_partial_fills_when_a_quote_can_fill_only_part(clock: FixedClock) -> None:
    broker = PaperBroker(PaperBrokerConfig(max_fill_per_quote=D(4)), {AAPL.id: AAPL}, clock.now)
    broker.on_quote(quote("100"))
    order = new(kind=OrderType.MARKET, px=None)
    broker.submit(order)
    follow(order, broker.drain())
    assert (order.status, order.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, quantity("4"))
    broker.on_quote(quote("100", at=1))
    broker.on_quote(quote("100", at=2))
    fills = [e for e in broker.drain() if isinstance(e, OrderFilled)]
    follow(order, fills)
    assert [f.fill.quantity for f in fills] == [quantity("4"), quantity("2")]
    assert [f.fill.trade_id.value for f in fills] == ["P1-2", "P1-3"]
    assert order.status is OrderStatus.FILLED


def test_a_paper_account_is_funded_with_its_starting_cash_once(clock: FixedClock) -> None:
    from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
    from algodesk.services.ledger import LedgerService
    from algodesk.services.recovery import open_paper_account

    config = PaperBrokerConfig(starting_cash=money("250000", "INR"))
    store = InMemoryStore()
    ledger = LedgerService(lambda: InMemoryUnitOfWork(store), clock)
    assert config.starting_cash is not None
    assert open_paper_account(ledger, ACCOUNT, config.starting_cash) is True
    assert open_paper_account(ledger, ACCOUNT, config.starting_cash) is False
    assert ledger.summary(ACCOUNT).cash == {"INR": D(250000)}
    with pytest.raises(ValueError, match="starting_cash"):
        PaperBrokerConfig(starting_cash=money("0", "INR"))


def bar(o: str, h: str, low: str, c: str, at: int = 1) -> Bar:
    return Bar(AAPL.id, T0 + timedelta(days=at), D(o), D(h), D(low), D(c), D(1000))


def test_bars_an_order_placed_between_bars_arrives_at_the_next_open(
    broker: PaperBroker,
) -> None:
    broker.on_bar(bar("100", "101", "99", "100"))
    order = new(kind=OrderType.MARKET, px=None)
    broker.submit(order)
    assert [type(e) for e in broker.drain()] == [OrderAccepted]  # no quote: it waits
    broker.on_bar(bar("103", "104", "102", "103", at=2))
    events = broker.drain()
    assert [type(e) for e in events] == [OrderFilled]
    assert events[0].fill.price.value == D("103")  # type: ignore[attr-defined]


def test_bars_one_cancels_other_the_first_linked_wins_a_shared_bar(
    broker: PaperBroker,
) -> None:
    broker.on_bar(bar("100", "101", "99", "100"))
    stop = new("SL", OrderSide.SELL, OrderType.STOP, None, trigger="95", tif=TimeInForce.GTC)
    target = new("TP", OrderSide.SELL, OrderType.LIMIT, "105", tif=TimeInForce.GTC)
    broker.submit(target)  # older than the stop
    broker.submit(stop)
    broker.one_cancels_other(stop.client_order_id, target.client_order_id)
    broker.drain()
    broker.on_bar(bar("100", "106", "94", "100", at=2))  # both prices lie in the bar
    events = broker.drain()
    assert [type(e) for e in events] == [OrderTriggered, OrderFilled, OrderCanceled]
    assert events[1].client_order_id == stop.client_order_id
    assert events[2].client_order_id == target.client_order_id
    assert broker.working_orders == []


def test_bars_linking_an_order_that_is_not_working_is_refused(broker: PaperBroker) -> None:
    order = new()
    broker.submit(order)
    with pytest.raises(VenueRejectedError, match="NOPE is not working"):
        broker.one_cancels_other(order.client_order_id, ClientOrderId("NOPE"))


def test_an_order_submitted_now_is_left_alone_until_confirmed(broker: PaperBroker) -> None:
    broker.on_quote(quote("101"))
    answer = broker.submit_now(new("N1", px="100"))
    assert [type(e) for e in answer] == [OrderAccepted]
    assert broker.drain() == []  # the answer is returned, not queued
    broker.on_quote(quote("99", at=1))  # crosses the limit: passed by, not stored yet
    assert broker.drain() == []
    broker.confirm(ClientOrderId("N1"))  # stored: matched against the quote it missed
    assert [type(e) for e in broker.drain()] == [OrderFilled]
    assert broker.working_orders == []


def test_a_withdrawn_order_leaves_nothing_behind(broker: PaperBroker) -> None:
    broker.submit_now(new("W1", px="100"))
    broker.submit_now(new("W2", px="100"))
    broker.confirm(ClientOrderId("W2"))
    broker.on_quote(quote("99"))  # fills W2; passes W1 by
    broker.withdraw(ClientOrderId("W1"))
    broker.confirm(ClientOrderId("W1"))  # too late: forgotten
    assert [e.client_order_id.value for e in broker.drain()] == ["W2"]
    assert broker.working_orders == []


def _nasdaq_days(tmp_path: Path) -> Callable[[InstrumentId, datetime], date | None]:
    """The trading days of AAPL's venue, from the desk's calendars (XNYS)."""
    calendars = desk_calendars(tmp_path)
    return lambda iid, at: calendars.for_venue(iid.venue).trading_day(at)


def _day_order_broker(clock: FixedClock, tmp_path: Path) -> PaperBroker:
    return PaperBroker(
        PaperBrokerConfig(), {AAPL.id: AAPL}, clock.now, trading_day=_nasdaq_days(tmp_path)
    )


@pytest.mark.parametrize(
    ("tif", "later", "expected"),
    [
        # T0 is Monday 04:15 New York: the order counts towards Monday's session.
        (TimeInForce.DAY, timedelta(hours=10), OrderFilled),  # 14:15 the same day
        (TimeInForce.DAY, timedelta(days=1), OrderExpired),  # Tuesday: its day is over
        (TimeInForce.GTC, timedelta(days=1), OrderFilled),
    ],
)
def test_a_day_order_expires_with_its_trading_day(
    clock: FixedClock,
    tmp_path: Path,
    tif: TimeInForce,
    later: timedelta,
    expected: type[OrderEvent],
) -> None:
    broker = _day_order_broker(clock, tmp_path)
    broker.on_quote(quote("101", "100.95", "101.05"))
    broker.submit(new(px="100", tif=tif))  # rests: the market is above its limit
    assert [type(e) for e in broker.drain()] == [OrderAccepted]
    clock.set(T0 + later)
    broker.on_quote(Quote(AAPL.id, T0 + later, D("99"), D("98.95"), D("99.05")))
    assert [type(e) for e in broker.drain()] == [expected]
    assert broker.working_orders == []


def test_an_ioc_with_no_price_to_meet_is_canceled_at_once(broker: PaperBroker) -> None:
    """No quote yet (a restart, a feed that has not spoken): an IOC cannot wait for one."""
    broker.submit(new(px="100", tif=TimeInForce.IOC))
    assert [type(e) for e in broker.drain()] == [OrderAccepted, OrderCanceled]
    broker.on_quote(quote("99", "98.95", "99.05", at=1800))
    assert broker.drain() == []


def test_a_quote_that_fills_one_leg_of_a_pair_cancels_the_other(broker: PaperBroker) -> None:
    broker.on_quote(quote("100"))
    stop = new("SL", side=OrderSide.SELL, kind=OrderType.STOP, px=None, trigger="95")
    target = new("TP", side=OrderSide.SELL, px="105")
    broker.submit(target)  # matched first on a quote, so its fill cancels the stop mid-quote
    broker.submit(stop)
    broker.one_cancels_other(ClientOrderId("SL"), ClientOrderId("TP"))
    broker.drain()
    broker.on_quote(quote("106", at=5))  # the target trades through
    events = broker.drain()
    assert [(type(e), e.client_order_id.value) for e in events] == [
        (OrderFilled, "TP"),
        (OrderCanceled, "SL"),
    ]
    assert broker.working_orders == []


def test_bars_a_gtd_order_whose_time_ran_out_overnight_expires_unfilled(
    broker: PaperBroker, clock: FixedClock
) -> None:
    order = new("G1", tif=TimeInForce.GTD, expire_time=T0 + timedelta(hours=6))
    broker.submit(order)
    assert [type(e) for e in broker.drain()] == [OrderAccepted]
    clock.set(T0 + timedelta(days=1))  # the next bar begins the next morning
    broker.on_bar(bar("99", "99.5", "98", "99"))  # through its limit
    assert [type(e) for e in broker.drain()] == [OrderExpired]
    assert broker.working_orders == []


def _take_profit(coid: str = "R1", qty: str = "10") -> Order:
    """A reduce-only limit sell at 105 (resting while the price is near 100)."""
    return new(coid, side=OrderSide.SELL, px="105", qty=qty, reduce_only=True)


def _canceled(events: list[OrderEvent]) -> list[tuple[str, str | None]]:
    return [(e.client_order_id.value, e.reason) for e in events if isinstance(e, OrderCanceled)]


def test_a_reduce_only_order_fills_only_what_is_held_then_is_canceled(
    broker: PaperBroker,
) -> None:
    broker.hold_positions([(ACCOUNT, None, AAPL.id, D(6))])
    broker.on_quote(quote("100"))
    broker.submit(_take_profit())
    broker.on_quote(quote("106", at=1))
    events = broker.drain()
    fills = [e.fill.quantity.value for e in events if isinstance(e, OrderFilled)]
    assert (fills, _canceled(events)) == ([D(6)], [("R1", NOTHING_TO_REDUCE)])


def test_a_reduce_only_order_is_not_trimmed_by_a_fill_until_that_fill_is_stored(
    broker: PaperBroker,
) -> None:
    broker.hold_positions([(ACCOUNT, None, AAPL.id, D(10))])
    broker.on_quote(quote("100"))
    broker.submit(_take_profit())
    broker.drain()
    sale = broker.submit_now(new("S1", side=OrderSide.SELL, kind=OrderType.MARKET, px=None))
    assert OrderFilled in [type(e) for e in sale]
    assert _canceled(broker.drain()) == []  # the sale may yet be withdrawn
    broker.confirm(ClientOrderId("S1"))  # stored: nothing is left for the take-profit
    assert _canceled(broker.drain()) == [("R1", NOTHING_TO_REDUCE)]
    assert broker.working_orders == []


def test_a_withdrawn_fill_is_taken_back_from_the_positions(broker: PaperBroker) -> None:
    broker.hold_positions([(ACCOUNT, None, AAPL.id, D(10))])
    broker.on_quote(quote("100"))
    broker.submit(_take_profit())
    broker.drain()
    broker.submit_now(new("S1", side=OrderSide.SELL, kind=OrderType.MARKET, px=None))
    broker.withdraw(ClientOrderId("S1"))  # never stored: the sale did not happen
    broker.on_quote(quote("106", at=1))
    events = broker.drain()
    assert [e.fill.quantity.value for e in events if isinstance(e, OrderFilled)] == [D(10)]
    assert _canceled(events) == []


def test_until_positions_are_known_a_reduce_only_order_fills_as_any_other(
    broker: PaperBroker,
) -> None:
    broker.on_quote(quote("100"))
    broker.submit(_take_profit())
    broker.on_quote(quote("106", at=1))
    assert [type(e) for e in broker.drain()] == [OrderAccepted, OrderFilled]
