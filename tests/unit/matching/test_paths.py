"""The price path through a bar: open, the two extremes in the chosen order, close."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.domain.matching import BarPathMode, bar_path
from tests.unit.matching.builders import bar

D = Decimal
ADAPTIVE, HIGH_FIRST, LOW_FIRST = (
    BarPathMode.ADAPTIVE,
    BarPathMode.HIGH_FIRST,
    BarPathMode.LOW_FIRST,
)


@pytest.mark.parametrize(
    ("ohlc", "mode", "expected"),
    [
        (("100", "101", "95", "98"), ADAPTIVE, ["100", "101", "95", "98"]),  # high nearer: first
        (("100", "105", "99", "103"), ADAPTIVE, ["100", "99", "105", "103"]),  # low nearer: first
        (("100", "102", "98", "101"), ADAPTIVE, ["100", "98", "102", "101"]),  # a tie: low first
        (("100", "105", "99", "103"), HIGH_FIRST, ["100", "105", "99", "103"]),
        (("100", "101", "95", "98"), LOW_FIRST, ["100", "95", "101", "98"]),
        (("100", "100", "95", "95"), ADAPTIVE, ["100", "95"]),  # repeats merge
        (("100", "100", "100", "100"), HIGH_FIRST, ["100"]),
    ],
)
def test_the_bar_path_orders_the_extremes_by_mode(
    ohlc: tuple[str, str, str, str], mode: BarPathMode, expected: list[str]
) -> None:
    assert bar_path(bar(*ohlc), None, mode) == [D(p) for p in expected]


def test_the_open_is_a_point_of_its_own_when_it_gaps_from_the_previous_close() -> None:
    assert bar_path(bar("100", "101", "95", "98"), prev_close=D("103")) == [
        D(100),
        D(101),
        D(95),
        D(98),
    ]


def test_without_a_gap_the_path_continues_from_the_previous_close_without_the_open() -> None:
    assert bar_path(bar("100", "101", "95", "98"), prev_close=D("100")) == [D(101), D(95), D(98)]
