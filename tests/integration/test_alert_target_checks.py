"""A fill between the sizing of a target and its cancels is counted (from a review probe)."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_alert_actions import working
from tests.integration.test_alert_service import Alerts
from tests.integration.test_engine import AAPL

D = Decimal


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
