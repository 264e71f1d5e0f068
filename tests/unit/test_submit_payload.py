"""A submit written as JSON values reads back as the same command: the same repr, so the same
fingerprint (a retry of a sliced order rebuilds its children from it)."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from algodesk.domain.commands import SubmitOrder, submit_from_payload, submit_payload
from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.values import price, quantity
from algodesk.services.outcomes import fingerprint

FULL = SubmitOrder(
    account_id=AccountId("acct-1"),
    idempotency_key="alert:7:0:nifty",
    instrument_id=InstrumentId("NIFTY26NOV26100CE.NFO"),
    side=OrderSide.SELL,
    order_type=OrderType.STOP_LIMIT,
    quantity=quantity(Decimal("3640")),
    price=price(Decimal("99.50")),  # the trailing zero is part of the repr
    trigger_price=price(Decimal("100.0")),
    time_in_force=TimeInForce.GTD,
    expire_time=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    bot_id=BotId("nifty"),
    reduce_only=True,
    client_order_id=ClientOrderId("COID1"),
    target_price=price(Decimal("80")),
    exits=ExitPlan(
        stop_loss=price(Decimal("120.25")),
        take_profit=price(Decimal("1E+1")),
        trailing=Trailing(Decimal("1.50"), TrailingUnit.POINTS),
    ),
    oco_with=ClientOrderId("COID0"),
)
BARE = SubmitOrder(
    account_id=AccountId("acct-1"),
    instrument_id=InstrumentId("AAPL.PAPER"),
    side=OrderSide.BUY,
    order_type=OrderType.MARKET,
    quantity=quantity("10"),
)


@pytest.mark.parametrize("command", [FULL, BARE], ids=["every field", "the fewest"])
def test_a_submit_reads_back_as_the_same_command(command: SubmitOrder) -> None:
    stored = json.loads(json.dumps(submit_payload(command)))  # as the journal keeps it
    back = submit_from_payload(stored)
    assert back == command
    assert repr(back) == repr(command)
    assert fingerprint(back) == fingerprint(command)


def test_an_empty_exit_plan_stays_an_exit_plan() -> None:
    command = replace(BARE, exits=ExitPlan())
    assert submit_from_payload(submit_payload(command)) == command


@pytest.mark.parametrize(
    ("change", "match"),
    [({"side": None}, "side is missing"), ({"quantity": 10}, "quantity must be text")],
)
def test_a_payload_missing_or_mistyping_a_field_is_refused(
    change: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        submit_from_payload({**submit_payload(BARE), **change})


def test_the_payload_has_every_field_of_a_submit() -> None:
    """A field added to SubmitOrder and forgotten here would be dropped from a retry's order."""
    assert set(submit_payload(BARE)) == {f.name for f in fields(SubmitOrder)}


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("exits", "sl=5", "exits must be an object"),
        ("reduce_only", "true", "reduce_only must be true or false"),
        ("quantity", "abc", "expected a decimal number"),
        ("exits", {"stop_loss": 5}, "stop_loss must be text"),
        ("quantity", None, "quantity is missing"),
        ("side", "BOTH", "BOTH"),
    ],
)
def test_a_damaged_payload_is_refused_not_read_as_a_default(
    field: str, value: object, named: str
) -> None:
    """A stored order that cannot be read back exactly is an error, never a plainer order
    (a reduce-only order read as one that adds, a stop dropped)."""
    stored = submit_payload(FULL)
    stored[field] = value
    with pytest.raises(ValueError, match=named):
        submit_from_payload(stored)


def test_a_damaged_trailing_stop_is_refused() -> None:
    stored = submit_payload(FULL)
    exits = dict(stored["exits"])  # type: ignore[call-overload]
    for trailing, named in (("5", "trailing must be an object"), ({"unit": "PCT"}, "distance")):
        stored["exits"] = {**exits, "trailing": trailing}
        with pytest.raises(ValueError, match=named):
            submit_from_payload(stored)


def test_a_payload_that_is_no_object_is_refused() -> None:
    with pytest.raises(ValueError, match="unreadable"):
        submit_from_payload(["BUY", "AAPL"])  # type: ignore[arg-type]
