"""Target positions that replace the bot's resting orders, from review probes: the rate limits
and slice cap judged before anything is canceled, fills racing cancels, cancels already on their
way, retries after crashes and lost fates, several bots, several strikes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from algodesk.domain.events import OrderFilled
from algodesk.domain.fills import Fill, OrderSide
from algodesk.domain.identifiers import TradeId
from algodesk.domain.orders import Order, OrderStatus
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import Price, Quantity, money
from algodesk.ports.broker import VenueUnavailableError
from algodesk.ports.inbox import AlertStatus
from algodesk.testing.brokers import ForwardingBroker
from tests.conftest import ACCOUNT
from tests.integration.test_alert_actions import ALPHA, working
from tests.integration.test_alert_service import Alerts, FlakyInbox
from tests.integration.test_engine import AAPL, PAPER, USD

D = Decimal


def test_a_target_the_order_rate_would_deny_after_its_cancels_cancels_nothing() -> None:
    """The cancels count against the order rate: the check before them counts them too, so a
    target whose new order the rate would deny cancels nothing (it was denied after its own
    cancel had pushed the account over the rate)."""
    alerts = Alerts()
    engine = alerts.desk.engine
    engine._limits = replace(  # type: ignore[attr-defined]
        engine._limits,  # type: ignore[attr-defined]
        accounts={ACCOUNT: RiskLimits(max_orders_per_second=1)},
    )
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    first = alerts.run({**target, "price": "95"})
    assert first.status is AlertStatus.EXECUTED, first
    alerts.desk.clock.advance(timedelta(seconds=2))  # a fresh second: 0 operations counted
    again = alerts.run({**target, "price": "96", "n": 2})
    assert (again.status, again.reason) == (AlertStatus.DENIED, "SUBMIT_RATE_EXCEEDED"), again
    [still] = working(alerts)  # the order it would have replaced, alone (not sent beside it)
    assert still.price.value == D(95)
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


class CountingCancelsUnanswered(ForwardingBroker):
    def cancel(self, order: Order) -> None:
        self.calls.append("cancel")
        raise VenueUnavailableError("no answer yet")


def test_a_cancel_already_pending_is_not_sent_again() -> None:
    """An order whose cancel is on its way is not canceled again by the next target (the
    processor sent a second cancel under the new alert's key)."""
    alerts = Alerts(remote=CountingCancelsUnanswered)  # type: ignore[arg-type]
    broker = alerts.desk.engine._brokers[PAPER]  # type: ignore[attr-defined]
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    alerts.run({**target, "price": "96", "n": 2})
    assert broker.calls.count("cancel") == 1
    [pending] = working(alerts)
    assert pending.status is OrderStatus.PENDING_CANCEL
    alerts.run({**target, "price": "97", "n": 3})
    assert broker.calls.count("cancel") == 1, broker.calls  # its cancel is on its way


def test_retry_rows_show_the_canceled_order_not_the_alerts_symbol() -> None:
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    fresh = alerts.run({**target, "price": "96", "n": 2})  # fate recorded at once
    inbox.failures = 1
    answer = alerts.post({**target, "price": "97", "n": 3})
    assert alerts.processor.drain() == 0
    assert alerts.processor.drain() == 1
    retried = alerts.inbox.get(int(answer["alert_id"]))
    assert fresh is not None
    assert retried is not None
    f_cancel = fresh.fate["orders"][0]
    r_cancel = retried.fate["orders"][0]
    assert r_cancel["action"] == "cancel"
    assert r_cancel["symbol"] == f_cancel["symbol"] == AAPL.id.value


def test_two_targets_in_one_drain_batch() -> None:
    """TradingView fires the same target twice; both arrive before a drain (one engine
    batch): the second replaces the first's order staged in the batch."""
    alerts = Alerts()
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    a = alerts.post({**target, "price": "95"})
    b = alerts.post({**target, "price": "96", "n": 2})
    assert alerts.processor.drain() == 2
    first = alerts.inbox.get(int(a["alert_id"]))
    second = alerts.inbox.get(int(b["alert_id"]))
    assert first is not None
    assert second is not None
    assert first.status is AlertStatus.EXECUTED, first
    assert second.status is AlertStatus.EXECUTED, second
    [live] = working(alerts)
    assert live.price.value == D(96)
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


def test_two_market_targets_in_one_drain_batch() -> None:
    alerts = Alerts()
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5", "type": "limit", "price": "95"})
    alerts.post({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 1})
    alerts.post({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 2})
    alerts.processor.drain()
    assert working(alerts) == []
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


def test_crash_between_cancels_then_retry_lists_each_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from algodesk.domain.commands import CancelOrder

    alerts = Alerts()
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "3", "type": "limit", "price": "95"})
    alerts.run(
        {"action": "buy", "symbol": "AAPL", "qty": "4", "type": "limit", "price": "94", "n": 2}
    )
    a, b = working(alerts)
    answer = alerts.post(
        {
            "action": "buy",
            "symbol": "AAPL",
            "position_size": "10",
            "type": "limit",
            "price": "96",
            "n": 3,
        }
    )
    real = alerts.desk.engine.handle
    crashed = []

    def crash(command):  # type: ignore[no-untyped-def]
        if (
            isinstance(command, CancelOrder)
            and command.client_order_id == b.client_order_id
            and not crashed
        ):
            crashed.append(1)
            raise ConnectionError("link dropped")
        return real(command)

    monkeypatch.setattr(alerts.desk.engine, "handle", crash)
    assert alerts.processor.drain() == 0
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    got = [(r["action"], r["client_order_id"], r["ok"]) for r in entry.fate["orders"]]
    coids = [c for _, c, _ in got]
    assert coids.count(a.client_order_id.value) == 1
    assert coids.count(b.client_order_id.value) == 1
    assert len(got) == 3
    [live] = working(alerts)
    assert live.quantity.value == D(10)


def test_multi_bot_target_replaces_each_bots_own_orders_only() -> None:
    from algodesk.domain.identifiers import BotId

    alerts = Alerts()
    beta = BotId("beta")
    alerts.run(
        {
            "action": "buy",
            "symbol": "AAPL",
            "position_size": "10",
            "type": "limit",
            "price": "95",
            "bots": ["alpha", "beta"],
        }
    )
    # beta also has an order of another target on MSFT, untouched
    both = alerts.run(
        {
            "action": "buy",
            "symbol": "AAPL",
            "position_size": "6",
            "type": "limit",
            "price": "96",
            "bots": ["alpha", "beta"],
            "n": 2,
        }
    )
    assert both.status is AlertStatus.EXECUTED
    for bot in (ALPHA, beta):
        live = alerts.desk.engine.open_orders(ACCOUNT, bot)
        assert [(o.quantity.value, o.price.value) for o in live] == [(D(6), D(96))]


class RefusesSecondCancel(ForwardingBroker):
    """A remote venue: the first cancel is not answered yet; one more for the same order is
    refused (as brokers refuse a cancel of an order whose cancel is in progress)."""

    def cancel(self, order: Order) -> None:
        from algodesk.ports.broker import VenueRejectedError

        self.calls.append("cancel")
        if self.calls.count("cancel") > 1:
            raise VenueRejectedError("cancel already in progress")
        raise VenueUnavailableError("no answer yet")


def test_a_pending_cancel_stays_pending_when_the_next_target_comes() -> None:
    alerts = Alerts(remote=RefusesSecondCancel)  # type: ignore[arg-type]
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    alerts.run({**target, "price": "96", "n": 2})
    alerts.run({**target, "price": "97", "n": 3})
    [order] = working(alerts)
    assert order.status is OrderStatus.PENDING_CANCEL, order.status


def test_a_cancel_still_on_its_way_after_a_part_fill_is_not_sent_again() -> None:
    alerts = Alerts(remote=CountingCancelsUnanswered)  # type: ignore[arg-type]
    engine = alerts.desk.engine
    broker = engine._brokers[PAPER]  # type: ignore[attr-defined]  # the counting venue
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    alerts.run({**target, "price": "96", "n": 2})  # its cancel goes, unanswered
    assert broker.calls.count("cancel") == 1
    [resting] = working(alerts)
    assert resting.status is OrderStatus.PENDING_CANCEL
    # The venue fills 4 of it before it answers the cancel (the race the session records).
    fill = Fill(
        account_id=ACCOUNT,
        client_order_id=resting.client_order_id,
        instrument_id=AAPL.id,
        venue=PAPER,
        trade_id=TradeId("race-1"),
        side=OrderSide.BUY,
        quantity=Quantity(D(4)),
        price=Price(D(95)),
        fee=money("0", USD),
        ts=alerts.desk.clock.now(),
        bot_id=ALPHA,
    )
    engine.apply_venue_event(
        OrderFilled(client_order_id=resting.client_order_id, ts=fill.ts, fill=fill)
    )
    [raced] = working(alerts)
    assert raced.status is OrderStatus.PARTIALLY_FILLED
    assert raced.outstanding == [OrderStatus.PENDING_CANCEL]  # its cancel is on its way
    alerts.run({**target, "price": "97", "n": 3})
    assert broker.calls.count("cancel") == 1, broker.calls  # not canceled again
