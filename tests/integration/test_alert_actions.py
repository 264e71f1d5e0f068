"""What each alert action does to the bot's position, through the real intake, processor,
engine and paper exchange: partial closes, a flatten of one symbol, actions named for one
side, reverses with their order type and exits, target positions with orders working, and
quantities that are taken as stated or refused, never floored."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from algodesk.domain.identifiers import BotId
from algodesk.domain.orders import OrderStatus, OrderType
from algodesk.ports.inbox import AlertStatus, InboxEntry
from tests.conftest import ACCOUNT
from tests.integration.test_alert_service import SECRET, Alerts
from tests.integration.test_engine import AAPL, MSFT

D = Decimal
ALPHA = BotId("alpha")


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


def explain(alerts: Alerts, message: dict[str, object]) -> dict[str, Any]:
    body = json.dumps({**message, "secret": SECRET}).encode()
    hook = alerts.intake.hook(alerts.hook.token)
    assert hook is not None
    verdict = alerts.intake.check(hook, body, alerts.desk.clock.now())
    return alerts.processor.explain(hook.bot_id, verdict).as_dict()


def sent(alerts: Alerts, entry: InboxEntry) -> list[Any]:
    """The orders an alert sent, as stored."""
    rows = entry.fate.get("orders", [])
    assert isinstance(rows, list)
    return [alerts.desk.order(r["client_order_id"]) for r in rows if r.get("client_order_id")]


def notes(entry: InboxEntry) -> list[str]:
    rows = entry.fate.get("orders", [])
    assert isinstance(rows, list)
    return [str(r.get("message", "")) for r in rows]


def working(alerts: Alerts) -> list[Any]:
    return alerts.desk.engine.open_orders(ACCOUNT, ALPHA)


def test_a_close_with_a_quantity_closes_that_much_and_never_turns_the_position(
    alerts: Alerts,
) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    asked = {"action": "close", "symbol": "AAPL", "qty": "4"}
    [shown] = explain(alerts, asked)["orders"]
    assert (shown["action"], shown["quantity"], shown["sizing"]) == ("close", "4", "units")
    entry = alerts.run(asked)
    assert entry.status is AlertStatus.EXECUTED, entry
    [order] = sent(alerts, entry)
    assert (order.side.value, order.quantity.value, order.reduce_only) == ("SELL", D(4), True)
    assert alerts.position() == D(6)
    more = alerts.run({"action": "exit", "symbol": "AAPL", "qty": "15", "n": 2})
    assert more.status is AlertStatus.EXECUTED, more
    assert alerts.position() == D(0)  # 6 closed, not 15: never short


def test_a_close_without_a_quantity_closes_it_all_and_explain_says_so(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    [shown] = explain(alerts, {"action": "close", "symbol": "AAPL"})["orders"]
    assert (shown["quantity"], shown["sizing"]) == (None, "all of the position")
    alerts.run({"action": "close", "symbol": "AAPL"})
    assert alerts.position() == D(0)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"qty": "50%"}, "unknown_units"),
        ({"qty": "4", "sl": "95"}, "ambiguous"),
        ({"qty": "2.5"}, "bad_value"),  # AAPL trades in whole shares
    ],
)
def test_a_close_it_cannot_do_as_asked_is_refused(
    alerts: Alerts, extra: dict[str, str], reason: str
) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    entry = alerts.run({"action": "close", "symbol": "AAPL", **extra})
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, reason), entry
    assert alerts.position() == D(10)


def test_a_flatten_that_names_a_symbol_flattens_that_symbol_only(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5"})
    alerts.run({"action": "buy", "symbol": "MSFT", "qty": "3"})
    alerts.run({"action": "buy", "symbol": "MSFT", "qty": "1", "type": "limit", "price": "95"})
    entry = alerts.run({"action": "closeall", "symbol": "AAPL"})
    assert entry.status is AlertStatus.EXECUTED, entry
    assert alerts.position(instrument=AAPL.id) == D(0)
    assert alerts.position(instrument=MSFT.id) == D(3)
    [resting] = working(alerts)
    assert (resting.instrument_id, resting.price.value) == (MSFT.id, D(95))
    alerts.run({"action": "closeall"})  # no symbol: everything of the bot
    assert alerts.position(instrument=MSFT.id) == D(0)
    assert working(alerts) == []


def test_an_action_named_for_one_side_leaves_the_other_side_alone(alerts: Alerts) -> None:
    alerts.run({"action": "sell", "symbol": "AAPL", "qty": "5"})
    for n, action in enumerate(("exit_long", "closelong", "reverse_long_to_short")):
        entry = alerts.run({"action": action, "symbol": "AAPL", "n": n})
        assert entry.status is AlertStatus.EXECUTED, entry
        assert "is for a long position, and the bot is short 5" in notes(entry)[0]
        assert sent(alerts, entry) == []
    flat = alerts.run({"action": "buy", "symbol": "AAPL", "sentiment": "flat", "n": 9})
    assert flat.status is AlertStatus.EXECUTED, flat  # TradersPost: buy to flat exits a short
    assert alerts.position() == D(0)
    alerts.run({"action": "sell", "symbol": "AAPL", "qty": "5", "n": 10})
    alerts.run({"action": "reverse_short_to_long", "symbol": "AAPL"})
    assert alerts.position() == D(5)
    [shown] = explain(alerts, {"action": "exit_short", "symbol": "AAPL"})["orders"]
    assert shown["action"] == "close_short"
    alerts.run({"action": "exit_short", "symbol": "AAPL"})
    assert alerts.position() == D(5)
    alerts.run({"action": "exit_long", "symbol": "AAPL"})
    assert alerts.position() == D(0)


def test_a_reverse_keeps_its_order_type_price_and_exits(alerts: Alerts) -> None:
    alerts.run({"action": "sell", "symbol": "AAPL", "qty": "5"})
    asked = {"action": "reverse", "symbol": "AAPL", "type": "limit", "price": "99", "sl": "95"}
    [shown] = explain(alerts, asked)["orders"]
    assert (shown["order_type"], shown["price"], shown["stop_loss"]) == ("LIMIT", "99", "95")
    assert shown["sizing"] == "the position's size"
    entry = alerts.run({**asked, "tp": "110"})
    assert entry.status is AlertStatus.EXECUTED, entry
    [order] = sent(alerts, entry)
    assert (order.side.value, order.order_type, order.quantity.value) == (
        "BUY",
        OrderType.LIMIT,
        D(10),
    )
    assert (order.price.value, order.status) == (D(99), OrderStatus.ACCEPTED)
    assert alerts.position() == D(-5)  # it rests: the limit is below the mark
    alerts.desk.quote(AAPL, "98.90")
    assert alerts.position() == D(5)
    alerts.desk.quote(AAPL, "94.99")  # the new long's stop-loss
    alerts.desk.exits.on_mark(AAPL.id, D("94.99"))
    assert alerts.position() == D(0)


def test_a_reverse_sized_other_than_in_units_is_refused_by_explain_and_execution(
    alerts: Alerts,
) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5"})
    asked = {"action": "reverse", "symbol": "AAPL", "qty": "10%"}
    said = explain(alerts, asked)
    assert (said["accepted"], said["reason"]) == (False, "unknown_units")
    entry = alerts.run(asked)
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "unknown_units")
    assert alerts.position() == D(5)


def test_a_target_position_counts_the_bots_working_entries(alerts: Alerts) -> None:
    first = alerts.run(
        {"action": "buy", "symbol": "AAPL", "position_size": "5", "type": "limit", "price": "99"}
    )
    assert first.status is AlertStatus.EXECUTED, first
    again = alerts.run(
        {"action": "buy", "symbol": "AAPL", "position_size": "5", "type": "limit", "price": "98"}
    )
    assert again.status is AlertStatus.EXECUTED, again
    assert "nothing to do: 5 is already held and working" in notes(again)[0]
    alerts.desk.quote(AAPL, "97")
    assert alerts.position() == D(5)  # not 10


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ({"qty": "1.9"}, "bad_value"),  # AAPL trades in whole shares: not 1
        ({"qty": "0.5"}, "bad_value"),
        ({"position_size": "-2.7"}, "bad_value"),
        ({"qty": "0.001%"}, "sizing"),  # 0.001 % of 40,000 buys less than one share
    ],
)
def test_a_quantity_that_is_not_whole_lots_is_refused_never_floored(
    alerts: Alerts, size: dict[str, str], reason: str
) -> None:
    said = explain(alerts, {"action": "buy", "symbol": "AAPL", **size})
    if reason == "bad_value":  # explain sizes nothing, but knows the lot
        assert (said["accepted"], said["reason"]) == (False, reason)
    entry = alerts.run({"action": "buy", "symbol": "AAPL", **size})
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, reason), entry
    assert alerts.position() == D(0)
    assert working(alerts) == []


def test_an_exit_that_rounds_to_nothing_is_refused(alerts: Alerts) -> None:
    entry = alerts.run({"action": "buy", "symbol": "AAPL", "qty": "1", "sl": "0.001"})
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "bad_value"), entry
    assert "not above zero" in entry.message
    assert alerts.position() == D(0)


def test_an_absurd_price_is_denied_by_the_price_band_at_once_not_retried(alerts: Alerts) -> None:
    huge = "1" + "0" * 60
    entry = alerts.run({"action": "buy", "symbol": "AAPL", "type": "limit", "price": huge})
    assert entry.status is AlertStatus.DENIED, entry
    [row] = entry.fate["orders"]  # type: ignore[misc]
    assert row["code"] == "PRICE_OUTSIDE_BAND"
