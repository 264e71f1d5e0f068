"""Expiry: GTD at its time, DAY at the session close, on quotes and through ``expire_due``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching import FillModel, MatchingEngine, expire_due
from algodesk.domain.orders import OrderType, TimeInForce
from tests.unit.matching.builders import AAPL, T0, quote, working

BUY, LIMIT = OrderSide.BUY, OrderType.LIMIT


def engine() -> MatchingEngine:
    return MatchingEngine(FillModel())


def test_a_gtd_order_expires_at_its_expire_time_without_matching() -> None:
    order = working(
        LIMIT, BUY, "10", limit="100", tif=TimeInForce.GTD, expire_time=T0 + timedelta(minutes=5)
    )
    eng = engine()

    live = eng.on_quote(order, AAPL, quote("101", minutes=4))
    expired = eng.on_quote(order, AAPL, quote("99", minutes=5))

    assert not live.expired
    assert expired.expired
    assert expired.executions == ()


@pytest.mark.parametrize(
    ("tif", "minutes", "session_closed", "due"),
    [
        (TimeInForce.GTD, 9, False, False),
        (TimeInForce.GTD, 10, False, True),
        (TimeInForce.DAY, 600, False, False),
        (TimeInForce.DAY, 1, True, True),
        (TimeInForce.GTC, 10_000, True, False),
    ],
)
def test_an_order_is_due_to_expire_by_its_time_in_force(
    tif: TimeInForce, minutes: int, session_closed: bool, due: bool
) -> None:
    expire_time = T0 + timedelta(minutes=10) if tif is TimeInForce.GTD else None
    order = working(LIMIT, BUY, "1", limit="100", tif=tif, expire_time=expire_time)

    assert expire_due(order, T0 + timedelta(minutes=minutes), session_closed=session_closed) is due


def test_a_day_order_expires_on_a_quote_after_the_session_closed() -> None:
    order = working(LIMIT, BUY, "10", limit="100", tif=TimeInForce.DAY)
    result = engine().on_quote(order, AAPL, quote("99"), session_closed=True)

    assert result.expired
    assert result.executions == ()
