"""A target sent again while its first market order is still in flight at a remote venue
replaces it instead of buying again (from a review probe)."""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.events import OrderEvent
from algodesk.ports.inbox import AlertStatus
from algodesk.testing.brokers import ForwardingBroker
from tests.integration.test_alert_actions import working
from tests.integration.test_alert_service import Alerts
from tests.integration.test_engine import PAPER

D = Decimal


class SlowAnswers(ForwardingBroker):
    """A remote venue whose answers (acceptance, fills) have not come back yet."""

    held = True

    def drain(self) -> list[OrderEvent]:
        return [] if self.held else super().drain()


def test_a_target_sent_again_while_its_market_order_is_in_flight_is_not_bought_twice() -> None:
    alerts = Alerts(remote=SlowAnswers)  # type: ignore[arg-type]
    broker = alerts.desk.engine._brokers[PAPER]  # type: ignore[attr-defined]
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10"}
    first = alerts.run(target)
    assert first.status is AlertStatus.EXECUTED, first
    assert len(working(alerts)) == 1  # in flight, unanswered
    alerts.run({**target, "n": 2})  # TradingView fires it again
    broker.held = False
    alerts.desk.engine.pump()
    assert alerts.position() == D(10)
