"""Builders for the matching tests: instruments, working orders, quotes and bars."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

from algodesk.domain.events import OrderAccepted, OrderFilled, OrderSubmitted, OrderTriggered
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import ClientOrderId, InstrumentId, TradeId, Venue, VenueOrderId
from algodesk.domain.instruments import AssetClass, Instrument, OptionRight
from algodesk.domain.matching import (
    Bar,
    Execution,
    FillModel,
    Liquidity,
    MatchingEngine,
    MatchResult,
    Quote,
)
from algodesk.domain.orders import Order, OrderType, TimeInForce
from algodesk.domain.values import Currency, Money, Price, Quantity
from tests.conftest import AAPL, ACCOUNT, T0

__all__ = ["AAPL", "NIFTY_CE", "T0", "bar", "fill_part", "quote", "working"]

D = Decimal
INR = Currency("INR")
NIFTY_CE = Instrument(
    id=InstrumentId("NIFTY26APR24000CE.NFO"),
    asset_class=AssetClass.OPTION,
    currency=INR,
    tick_size=D("0.05"),
    lot_size=D(65),
    underlying="NIFTY",
    expiry=date(2026, 4, 28),
    strike=D(24000),
    right=OptionRight.CALL,
)
_ids = itertools.count(1)


def working(
    order_type: OrderType,
    side: OrderSide,
    qty: str,
    *,
    limit: str | None = None,
    trigger: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    expire_time: datetime | None = None,
    instrument: Instrument = AAPL,
    triggered: bool = False,
) -> Order:
    """An accepted order (triggered, when asked), ready to be matched."""
    coid = ClientOrderId(f"M{next(_ids)}")
    order = Order.create(
        client_order_id=coid,
        account_id=ACCOUNT,
        instrument_id=instrument.id,
        side=side,
        order_type=order_type,
        quantity=Quantity(D(qty)),
        created_at=T0,
        time_in_force=tif,
        price=Price(D(limit)) if limit is not None else None,
        trigger_price=Price(D(trigger)) if trigger is not None else None,
        expire_time=expire_time,
    )
    order.apply(OrderSubmitted(client_order_id=coid, ts=T0))
    order.apply(OrderAccepted(client_order_id=coid, ts=T0, venue_order_id=VenueOrderId("V1")))
    if triggered:
        order.apply(OrderTriggered(client_order_id=coid, ts=T0))
    return order


def fill_part(order: Order, instrument: Instrument, qty: str, px: str) -> None:
    """Book a fill on ``order`` (as the engine's caller would)."""
    n = next(_ids)
    fill = Fill(
        account_id=order.account_id,
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        venue=Venue("PAPER"),
        trade_id=TradeId(f"T{n}"),
        side=order.side,
        quantity=Quantity(D(qty)),
        price=Price(D(px)),
        fee=Money(D(0), instrument.currency),
        ts=T0,
    )
    order.apply(OrderFilled(client_order_id=order.client_order_id, ts=T0, fill=fill))


def quote(
    last: str,
    bid: str | None = None,
    ask: str | None = None,
    *,
    instrument: Instrument = AAPL,
    minutes: int = 1,
) -> Quote:
    return Quote(
        instrument_id=instrument.id,
        ts=T0 + timedelta(minutes=minutes),
        last=D(last),
        bid=D(bid) if bid is not None else None,
        ask=D(ask) if ask is not None else None,
    )


def bar(
    o: str,
    h: str,
    low: str,
    c: str,
    volume: str = "1000000",
    *,
    instrument: Instrument = AAPL,
    minutes: int = 1,
) -> Bar:
    return Bar(
        instrument_id=instrument.id,
        ts_close=T0 + timedelta(minutes=minutes),
        open=D(o),
        high=D(h),
        low=D(low),
        close=D(c),
        volume=D(volume),
    )


BUY, SELL = OrderSide.BUY, OrderSide.SELL
MARKET, LIMIT, STOP, STOP_LIMIT = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
)
MAKER, TAKER = Liquidity.MAKER, Liquidity.TAKER


def engine(**knobs: object) -> MatchingEngine:
    """A matching engine with these :class:`FillModel` knobs."""
    return MatchingEngine(FillModel(**knobs))  # type: ignore[arg-type]


def only(result: MatchResult) -> Execution:
    """The one execution of ``result``."""
    assert len(result.executions) == 1, result.reason
    return result.executions[0]
