"""A target checked before it cancels anything: one the order rate would deny only with its
cancels counted is recorded denied and not sent beside the orders it was to replace; a fill
between sizing and the cancels is counted (from review probes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from algodesk.domain.risk.base import RiskLimits
from algodesk.ports.inbox import AlertStatus
from tests.conftest import ACCOUNT
from tests.integration.test_alert_actions import working
from tests.integration.test_alert_service import Alerts
from tests.integration.test_engine import AAPL

D = Decimal


def test_a_target_denied_only_by_its_assumed_cancels_is_not_sent_beside_the_order() -> None:
    """Order rate 1/s. The pre-check counts the cancel, so the new order looks denied, and
    nothing is canceled; but the order then goes out alone (the rate lets one through), beside
    the order it was meant to replace: two buys of 10 working for a target of 10."""
    alerts = Alerts()
    engine = alerts.desk.engine
    engine._limits = replace(  # type: ignore[attr-defined]
        engine._limits,  # type: ignore[attr-defined]
        accounts={ACCOUNT: RiskLimits(max_orders_per_second=1)},
    )
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    first = alerts.run({**target, "price": "95"})
    assert first.status is AlertStatus.EXECUTED, first
    alerts.desk.clock.advance(timedelta(seconds=2))
    again = alerts.run({**target, "price": "96", "n": 2})
    live = working(alerts)
    assert len(live) <= 1, (again.status, again.reason, [(o.price, o.quantity) for o in live])
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


def test_a_fill_between_sizing_and_the_cancels_is_counted() -> None:
    """A target of 10 at market while a buy of 10 rests at 95. The market thread fills the
    resting order after the target was sized (on 0) and before the cancels (here: while the
    pre-check runs, alerts processed one at a time, as after a failed batch). What is held
    after the cancels is compared with the position the order was sized on, so the fill
    counts and nothing more is bought (20 were held for a target of 10)."""
    import threading

    alerts = Alerts()
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10"}
    alerts.run({**target, "type": "limit", "price": "95"})
    assert len(working(alerts)) == 1
    engine = alerts.desk.engine
    real = engine.check_list

    def check_list(*args, **kwargs):  # type: ignore[no-untyped-def]
        market = threading.Thread(target=alerts.desk.quote, args=(AAPL, "94"))
        market.start()  # the desk's market thread: the quote fills the resting buy
        market.join()
        return real(*args, **kwargs)

    engine.check_list = check_list  # type: ignore[method-assign]
    alerts.post({**target, "n": 2})
    pending = alerts.inbox.pending(10)
    alerts.processor._one_by_one(pending)  # type: ignore[attr-defined]
    assert alerts.position() == D(10)
