"""The fate of a target retried while the cancel of the order it replaces is on its way lists
that cancel once (from review probes)."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_alert_actions import CancelsUnanswered, working
from tests.integration.test_alert_service import Alerts, FlakyInbox

D = Decimal


def test_a_retry_lists_a_pending_cancel_once() -> None:
    """The target's cancel is pending at the venue; its fate is lost. The retry lists the
    recorded cancel (from the note) and, the order being PENDING_CANCEL, a second row for the
    same order ('its cancel is on its way already', no command): the filter on the new plan's
    cancels does not see a row without a command."""
    inbox = FlakyInbox()
    alerts = Alerts(inbox, remote=CancelsUnanswered)  # type: ignore[arg-type]
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    [_first] = working(alerts)
    inbox.failures = 1
    answer = alerts.post({**target, "price": "96", "n": 2})
    assert alerts.processor.drain() == 0
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.reason == "WORKING_ORDER_NOT_CANCELED", entry
    cancels = [r for r in entry.fate["orders"] if r["action"] == "cancel"]
    assert len(cancels) == 1, cancels
