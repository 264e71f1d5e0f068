"""Exit watches on a sequence of marks: which exit fires, and when."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.domain.exits import ExitKind, ExitPlan, ExitWatch, Trailing, TrailingUnit
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import ClientOrderId
from algodesk.domain.values import price
from tests.conftest import AAPL

D = Decimal


def watch(side: OrderSide, plan: ExitPlan, entry: str = "100") -> ExitWatch:
    return ExitWatch(ClientOrderId("E1"), AAPL.id, side, D(10), plan, D(entry))


def run(w: ExitWatch, marks: list[str]) -> tuple[ExitKind | None, int | None]:
    for i, m in enumerate(marks):
        fired = w.on_mark(D(m))
        if fired is not None:
            return fired, i
    return None, None


CASES = [
    (
        "long stop-loss at the stop",
        OrderSide.BUY,
        ExitPlan(stop_loss=price("95")),
        ["99", "95.01", "95"],
        (ExitKind.STOP_LOSS, 2),
    ),
    (
        "long take-profit at the target",
        OrderSide.BUY,
        ExitPlan(take_profit=price("110")),
        ["105", "109.99", "110"],
        (ExitKind.TAKE_PROFIT, 2),
    ),
    (
        "short stop-loss above",
        OrderSide.SELL,
        ExitPlan(stop_loss=price("105")),
        ["104.99", "105"],
        (ExitKind.STOP_LOSS, 1),
    ),
    (
        "short take-profit below",
        OrderSide.SELL,
        ExitPlan(take_profit=price("90")),
        ["95", "90.01", "89"],
        (ExitKind.TAKE_PROFIT, 2),
    ),
    (
        "a gap through both: the stop wins",
        OrderSide.BUY,
        ExitPlan(stop_loss=price("95"), take_profit=price("94")),
        ["93"],
        (ExitKind.STOP_LOSS, 0),
    ),
    (
        "trailing 5% ratchets up, fires on the way down",
        OrderSide.BUY,
        ExitPlan(trailing=Trailing(D(5))),
        ["104", "110", "104.51", "104.50"],
        (ExitKind.TRAILING_STOP, 3),
    ),
    (
        "trailing in points for a short",
        OrderSide.SELL,
        ExitPlan(trailing=Trailing(D(2), TrailingUnit.POINTS)),
        ["97", "98.99", "99"],
        (ExitKind.TRAILING_STOP, 2),
    ),
    (
        "nothing crossed: nothing fires",
        OrderSide.BUY,
        ExitPlan(stop_loss=price("90"), take_profit=price("120")),
        ["95", "115"],
        (None, None),
    ),
]


@pytest.mark.parametrize(
    ("name", "side", "plan", "marks", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_exit_case(
    name: str,
    side: OrderSide,
    plan: ExitPlan,
    marks: list[str],
    expected: tuple[ExitKind | None, int | None],
) -> None:
    assert run(watch(side, plan), marks) == expected


def test_a_watch_fires_once() -> None:
    w = watch(OrderSide.BUY, ExitPlan(stop_loss=price("95")))
    assert w.on_mark(D(94)) is ExitKind.STOP_LOSS
    assert w.on_mark(D(90)) is None


def test_the_trailing_stop_is_tested_before_it_ratchets() -> None:
    w = watch(OrderSide.BUY, ExitPlan(trailing=Trailing(D(10), TrailingUnit.POINTS)), entry="100")
    assert w.on_mark(D(90)) is ExitKind.TRAILING_STOP  # 100 - 10: fires, does not first ratchet


@pytest.mark.parametrize(
    ("side", "plan", "message"),
    [
        (OrderSide.BUY, ExitPlan(stop_loss=price("101")), "below the entry"),
        (OrderSide.BUY, ExitPlan(take_profit=price("99")), "above the entry"),
        (OrderSide.SELL, ExitPlan(stop_loss=price("99")), "above the entry"),
        (OrderSide.SELL, ExitPlan(take_profit=price("101")), "below the entry"),
    ],
)
def test_exits_on_the_wrong_side_of_the_entry_are_refused(
    side: OrderSide, plan: ExitPlan, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan.check_against(side, D(100))


def test_a_trailing_distance_must_be_positive_and_under_100_percent() -> None:
    with pytest.raises(ValueError, match="> 0"):
        Trailing(D(0))
    with pytest.raises(ValueError, match="under 100"):
        Trailing(D(100))
