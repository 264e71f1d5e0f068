"""An alert given up after its attempts lists the orders it did send, also the child orders of
an order sliced at the freeze quantity (keyed by its slices, not by the alert's own key)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from algodesk.domain.commands import Command
from algodesk.ports.inbox import AlertStatus
from algodesk.services.alerts import MAX_ATTEMPTS
from algodesk.services.outcomes import Outcome
from tests.integration.test_option_alerts import OTM2, SPOT, OptionDesk

D = Decimal


def test_an_alert_given_up_lists_the_child_orders_its_sliced_order_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = OptionDesk(remote=True)  # on paper, the batch would undo the children with it
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    body = json.dumps(
        [
            {"action": "buy", "symbol": "NIFTY_CE", "qty": "3640"},
            {"action": "buy", "symbol": "NIFTY_CE", "qty": "65"},
        ]
    ).encode()
    answer = desk.intake.receive(desk.hook.token, body, "127.0.0.1")
    assert answer.status == 200, answer.body
    alert_id = answer.body["alert_id"]
    real = desk.engine.handle

    def venue_down_for_the_second(command: Command) -> Outcome:
        if (command.idempotency_key or "").startswith(f"alert:{alert_id}:1:"):
            raise ConnectionError("the venue link is down")
        return real(command)

    monkeypatch.setattr(desk.engine, "handle", venue_down_for_the_second)
    for _ in range(MAX_ATTEMPTS - 1):
        assert desk.processor.drain() == 0
    assert desk.processor.drain() == 1
    entry = desk.inbox.get(int(str(alert_id)))
    assert entry is not None
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "internal_error")
    children = sorted(desk.orders(), key=lambda o: o.client_order_id.value)
    assert sorted(o.quantity.value for o in children) == [D(130), D(1755), D(1755)]  # sent once
    listed = entry.fate["orders"]
    assert isinstance(listed, list)
    assert sorted(r["client_order_id"] for r in listed) == [
        o.client_order_id.value for o in children
    ]
    assert all(r["ok"] and r["symbol"] == "NIFTY_CE" for r in listed)
    assert desk.position(OTM2) == D(3640)
