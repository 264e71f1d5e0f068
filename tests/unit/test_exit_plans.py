"""Exit plans as the journal keeps them: read back exactly, or refused with what was found."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.values import Price
from algodesk.services.exits import UnreadableExitPlanError, plan_from_payload

PLAN = {"coid": "ENTRY1", "bot": None, "stop_loss": "95", "take_profit": None}


def test_a_plan_reads_back_as_written_negative_levels_too() -> None:
    negative = plan_from_payload(PLAN | {"stop_loss": "-37.63"})  # crude oil, April 2020
    assert negative.stop_loss == Price(Decimal("-37.63"))


def test_a_plan_reads_back_as_written() -> None:
    payload = PLAN | {"take_profit": "110.5", "trailing": "1.5", "trailing_unit": "PERCENT"}
    assert plan_from_payload(payload) == ExitPlan(
        Price(Decimal(95)),
        Price(Decimal("110.5")),
        Trailing(Decimal("1.5"), TrailingUnit.PERCENT),
    )


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        ({"stop_loss": "abc"}, "stop_loss: expected a decimal text, was 'abc'"),
        ({"stop_loss": 95}, "stop_loss: expected a decimal text, was 95"),
        ({"take_profit": "NaN"}, "take_profit: expected a decimal text, was 'NaN'"),
        ({"trailing": "-1", "trailing_unit": "POINTS"}, "trailing: expected a number above 0"),
        ({"trailing": "2", "trailing_unit": "furlongs"}, "furlongs"),
        ({"trailing": "2"}, "None"),  # a distance without its unit
    ],
)
def test_a_damaged_plan_is_refused_with_what_was_found(
    damage: dict[str, object], found: str
) -> None:
    with pytest.raises(UnreadableExitPlanError, match="order 'ENTRY1' cannot be read") as caught:
        plan_from_payload(PLAN | damage)
    assert found in str(caught.value)
