"""What the engine journals for a command: its fingerprint and its outcome's payload. Both are
stored, so a journal written before must read the same after any change to how they are made."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from algodesk.domain.commands import CancelOrder, Command, Flatten, ModifyOrder, SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.values import Price, quantity
from algodesk.services.outcomes import Outcome, fingerprint

ACCOUNT = AccountId("acct")


def _reference(command: Command) -> str:
    """The fingerprint as first defined: the repr of the command with no key."""
    return hashlib.sha256(repr(replace(command, idempotency_key=None)).encode()).hexdigest()[:32]


COMMANDS: list[Command] = [
    SubmitOrder(
        account_id=ACCOUNT,
        instrument_id=InstrumentId("NIFTY26DEC24000CE.NFO"),
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=quantity("75"),
        price=Price(Decimal("101.05")),
        time_in_force=TimeInForce.GTD,
        expire_time=datetime(2026, 12, 1, 10, tzinfo=UTC),
        bot_id=BotId("nifty-bot"),
        idempotency_key="alert:7:0:nifty-bot",
    ),
    CancelOrder(account_id=ACCOUNT, client_order_id=ClientOrderId("ORD1"), idempotency_key="c"),
    ModifyOrder(account_id=ACCOUNT, client_order_id=ClientOrderId("ORD1"), quantity=quantity("2")),
    Flatten(account_id=ACCOUNT, idempotency_key="flatten:x"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_fingerprint_ignores_the_key_and_keeps_its_recorded_value(command: Command) -> None:
    assert fingerprint(command) == _reference(command)
    assert fingerprint(command) == fingerprint(replace(command, idempotency_key="other"))


def test_fingerprint_tells_commands_apart() -> None:
    submit = COMMANDS[0]
    assert isinstance(submit, SubmitOrder)
    assert fingerprint(submit) != fingerprint(replace(submit, quantity=quantity("150")))


def test_outcome_payload_is_every_field_but_replayed_in_order() -> None:
    outcome = Outcome(False, "ORD1", "DENIED", "MAX_NOTIONAL_EXCEEDED", "over", replayed=True)
    expected = asdict(outcome)
    expected.pop("replayed")
    assert list(outcome.payload().items()) == list(expected.items())
