"""Matching one working order against a live quote (the paper exchange on live marks)."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching import (
    Execution,
    PercentFee,
    PerOrderFee,
    TickSlippage,
)
from algodesk.domain.orders import TimeInForce
from algodesk.domain.values import Money
from tests.unit.matching.builders import (
    AAPL,
    BUY,
    LIMIT,
    MAKER,
    MARKET,
    NIFTY_CE,
    SELL,
    STOP,
    STOP_LIMIT,
    TAKER,
    engine,
    fill_part,
    only,
    quote,
    working,
)

D = Decimal


def test_a_market_buy_fills_at_the_ask_plus_slippage_as_taker() -> None:
    order = working(MARKET, BUY, "10")
    result = engine(slippage=TickSlippage(2)).on_quote(
        order, AAPL, quote("100.00", "99.98", "100.02")
    )

    assert only(result) == Execution(D(10), D("100.04"), TAKER, Money(D(0), AAPL.currency))


@pytest.mark.parametrize(
    ("side", "bid", "ask", "expected"),
    [
        (SELL, "99.98", "100.02", "99.98"),  # at the bid
        (BUY, None, None, "100.00"),  # no book: the last
        (SELL, None, "100.02", "100.00"),  # the side it needs is missing: the last
    ],
)
def test_a_market_order_takes_its_side_of_the_book_or_else_the_last(
    side: OrderSide, bid: str | None, ask: str | None, expected: str
) -> None:
    result = engine().on_quote(working(MARKET, side, "5"), AAPL, quote("100.00", bid, ask))

    assert only(result).price == D(expected)
    assert only(result).liquidity is TAKER


def test_a_resting_limit_buy_is_not_filled_on_a_touch_when_limit_fill_prob_is_zero() -> None:
    result = engine().on_quote(working(LIMIT, BUY, "10", limit="100"), AAPL, quote("100"))

    assert result.executions == ()
    assert "touched, not traded through" in result.reason


def test_a_resting_limit_buy_is_filled_on_a_touch_when_limit_fill_prob_is_one() -> None:
    result = engine(limit_fill_prob=D(1)).on_quote(
        working(LIMIT, BUY, "10", limit="100"), AAPL, quote("100")
    )

    assert (only(result).price, only(result).liquidity) == (D(100), MAKER)


@pytest.mark.parametrize(
    ("side", "last", "bid", "ask"),
    [
        (BUY, "99.90", None, None),  # last traded through
        (BUY, "100.05", "99.95", "100.00"),  # an offer at the limit
        (SELL, "100.10", None, None),
        (SELL, "99.95", "100.00", "100.05"),
    ],
)
def test_a_resting_limit_traded_through_fills_at_the_limit_price_never_better_as_maker(
    side: OrderSide, last: str, bid: str | None, ask: str | None
) -> None:
    order = working(LIMIT, side, "10", limit="100")
    result = engine(slippage=TickSlippage(5)).on_quote(order, AAPL, quote(last, bid, ask))

    assert (only(result).price, only(result).liquidity) == (D(100), MAKER)


def test_a_limit_buy_above_the_market_is_not_filled() -> None:
    result = engine().on_quote(
        working(LIMIT, BUY, "10", limit="99"), AAPL, quote("100", "99.9", "100.1")
    )

    assert result.executions == ()
    assert result.reason == "LIMIT BUY at 99 not reached: last 100, ask 100.1"


@pytest.mark.parametrize(
    ("side", "limit", "bid", "ask", "expected"),
    [
        (BUY, "101", "99.98", "100.02", "100.02"),  # the ask, better than the limit
        (BUY, "100.02", "99.98", "100.02", "100.02"),
        (SELL, "99", "99.98", "100.02", "99.98"),
    ],
)
def test_a_marketable_limit_on_arrival_fills_at_once_as_taker_at_the_better_of_limit_and_book(
    side: OrderSide, limit: str, bid: str, ask: str, expected: str
) -> None:
    result = engine(slippage=TickSlippage(5)).on_quote(
        working(LIMIT, side, "10", limit=limit), AAPL, quote("100", bid, ask), arrival=True
    )

    assert (only(result).price, only(result).liquidity) == (D(expected), TAKER)


def test_a_stop_buy_triggers_when_the_last_reaches_the_trigger_and_fills_like_a_market() -> None:
    order = working(STOP, BUY, "10", trigger="101")
    eng = engine(slippage=TickSlippage(1))

    before = eng.on_quote(order, AAPL, quote("100.99", "100.98", "101.00"))
    after = eng.on_quote(order, AAPL, quote("101.00", "100.99", "101.02"))

    assert (before.executions, before.triggered) == ((), False)
    assert after.triggered
    assert (only(after).price, only(after).liquidity) == (D("101.03"), TAKER)


def test_a_stop_sell_triggers_when_the_last_falls_to_the_trigger() -> None:
    result = engine().on_quote(
        working(STOP, SELL, "10", trigger="95"), AAPL, quote("94.50", "94.45")
    )

    assert result.triggered
    assert only(result).price == D("94.45")


def test_a_stop_limit_triggers_and_then_rests_when_its_limit_is_not_marketable() -> None:
    order = working(STOP_LIMIT, BUY, "10", trigger="101", limit="101.50")
    result = engine().on_quote(order, AAPL, quote("101.10", "101.60", "101.80"))

    assert result.triggered
    assert result.executions == ()
    assert result.reason == (
        "trigger 101 reached at last 101.10; STOP_LIMIT BUY at 101.50 rests: ask 101.80 is outside "
        "the limit"
    )


def test_a_stop_limit_that_triggers_inside_its_limit_fills_at_once_as_taker() -> None:
    order = working(STOP_LIMIT, BUY, "10", trigger="101", limit="101.50")
    result = engine().on_quote(order, AAPL, quote("101.10", "101.05", "101.20"))

    assert result.triggered
    assert (only(result).price, only(result).liquidity) == (D("101.20"), TAKER)


def test_a_triggered_stop_limit_fills_at_its_limit_when_traded_through_as_maker() -> None:
    order = working(STOP_LIMIT, BUY, "10", trigger="101", limit="101.50", triggered=True)
    result = engine().on_quote(order, AAPL, quote("101.40"))

    assert not result.triggered
    assert (only(result).price, only(result).liquidity) == (D("101.50"), MAKER)


def test_an_ioc_order_cancels_whatever_it_cannot_fill_on_its_first_quote() -> None:
    order = working(LIMIT, BUY, "10", limit="99", tif=TimeInForce.IOC)
    result = engine().on_quote(order, AAPL, quote("100", "99.9", "100.1"), arrival=True)

    assert result.executions == ()
    assert result.canceled_remainder
    assert result.reason.endswith("IOC remainder 10 canceled")


def test_an_ioc_order_partly_filled_by_the_cap_cancels_the_rest() -> None:
    order = working(MARKET, SELL, "10", tif=TimeInForce.IOC)
    result = engine().on_quote(order, AAPL, quote("100", "99.9"), max_fill_quantity=D(4))

    assert only(result).quantity == D(4)
    assert result.canceled_remainder


def test_a_fill_capped_by_max_fill_quantity_is_floored_to_whole_lots() -> None:
    order = working(MARKET, BUY, "325", instrument=NIFTY_CE)  # five lots of 65
    result = engine().on_quote(
        order,
        NIFTY_CE,
        quote("100", "99.95", "100.05", instrument=NIFTY_CE),
        max_fill_quantity=D(200),
    )

    assert only(result).quantity == D(195)  # three lots; 200 is not a whole number of lots
    assert not result.canceled_remainder


def test_a_cap_under_one_lot_fills_nothing_and_says_why() -> None:
    order = working(MARKET, BUY, "130", instrument=NIFTY_CE)
    result = engine().on_quote(
        order, NIFTY_CE, quote("100", instrument=NIFTY_CE), max_fill_quantity=D(64)
    )

    assert result.executions == ()
    assert "cap 64 is under one lot of 65" in result.reason


def test_fees_are_charged_per_execution_with_per_order_charges_on_the_first_fill_only() -> None:
    order = working(LIMIT, BUY, "10", limit="100")
    eng = engine(fees=PerOrderFee(D(20)))

    first = eng.on_quote(order, AAPL, quote("99"), max_fill_quantity=D(4))
    fill_part(order, AAPL, "4", "100")
    second = eng.on_quote(order, AAPL, quote("99"))

    assert only(first).fee.amount == D(20)
    assert only(second) == Execution(D(6), D(100), MAKER, Money(D(0), AAPL.currency))


def test_maker_and_taker_fills_are_charged_their_own_rates() -> None:
    eng = engine(fees=PercentFee(maker_rate=D("0.0001"), taker_rate=D("0.0005")))
    maker = eng.on_quote(working(LIMIT, BUY, "10", limit="100"), AAPL, quote("99"))
    taker = eng.on_quote(working(MARKET, BUY, "10"), AAPL, quote("100"))

    assert (only(maker).fee.amount, only(taker).fee.amount) == (D("0.1000"), D("0.5000"))


def test_matching_does_not_change_the_order() -> None:
    order = working(STOP, BUY, "10", trigger="101")
    snapshot = copy.deepcopy(order)

    engine().on_quote(order, AAPL, quote("102"))

    assert (order.status, order.filled_quantity, order.fills, order.price) == (
        snapshot.status,
        snapshot.filled_quantity,
        snapshot.fills,
        snapshot.price,
    )


def test_a_quote_for_another_instrument_is_refused() -> None:
    order = working(MARKET, BUY, "65", instrument=NIFTY_CE)
    with pytest.raises(
        ValueError, match="expected order, instrument and observation of one instrument"
    ):
        engine().on_quote(order, NIFTY_CE, quote("24010"))


def test_an_order_that_is_not_working_is_refused() -> None:
    order = working(MARKET, BUY, "10")
    fill_part(order, AAPL, "10", "100")
    with pytest.raises(ValueError, match="expected a working order, was FILLED"):
        engine().on_quote(order, AAPL, quote("100"))
