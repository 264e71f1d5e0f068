"""What each alert action does to the bot's position, through the real intake, processor,
engine and paper exchange: partial closes, a flatten of one symbol, actions named for one
side, reverses with their order type and exits, target positions with orders working, and
quantities that are taken as stated or refused, never floored."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from algodesk.domain.identifiers import BotId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import Order, OrderStatus, OrderType
from algodesk.ports.broker import VenueUnavailableError
from algodesk.ports.inbox import AlertStatus, InboxEntry
from algodesk.testing.brokers import ForwardingBroker
from tests.conftest import ACCOUNT
from tests.faults import drop_link_once
from tests.integration.test_alert_service import SECRET, Alerts, FlakyInbox
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
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "1", "type": "limit", "price": "99"})
    more = alerts.run({"action": "exit", "symbol": "AAPL", "qty": "15", "n": 2})
    assert more.status is AlertStatus.EXECUTED, more
    assert alerts.position() == D(0)  # as much as is held or more: a close of it all, not short
    assert working(alerts) == []  # ... which cancels the symbol's orders, as close does


def test_a_partial_close_retried_after_its_fate_was_lost_is_not_sent_again() -> None:
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    inbox.failures = 1
    answer = alerts.post({"action": "close", "symbol": "AAPL", "qty": "8"})
    assert alerts.processor.drain() == 0  # the order went out, recording its fate failed
    assert alerts.position() == D(2)
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.EXECUTED, entry
    assert [o.quantity.value for o in sent(alerts, entry)] == [D(8)]
    assert alerts.position() == D(2)


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


@pytest.mark.parametrize(
    "extra",
    [
        {"type": "limit", "price": "99"},  # a resting reverse could be sent twice
        {"sl": "95"},  # its exits would cover the closing part too
        {"tp": "110"},
        {"position_size": "0"},  # a target is no size for a reverse
    ],
)
def test_a_reverse_goes_at_market_with_no_exits_or_is_refused(
    alerts: Alerts, extra: dict[str, str]
) -> None:
    alerts.run({"action": "sell", "symbol": "AAPL", "qty": "5"})
    asked = {"action": "reverse", "symbol": "AAPL", **extra}
    said = explain(alerts, asked)
    assert said["accepted"] is False
    entry = alerts.run(asked)
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, said["reason"]), entry
    assert alerts.position() == D(-5)
    assert working(alerts) == []


def test_a_reverse_at_market_turns_the_position(alerts: Alerts) -> None:
    alerts.run({"action": "sell", "symbol": "AAPL", "qty": "5"})
    [shown] = explain(alerts, {"action": "reverse", "symbol": "AAPL"})["orders"]
    assert (shown["order_type"], shown["sizing"]) == ("MARKET", "the position's size")
    alerts.run({"action": "reverse", "symbol": "AAPL"})
    assert alerts.position() == D(5)
    alerts.run({"action": "reverse", "symbol": "AAPL", "qty": "2", "n": 2})
    assert alerts.position() == D(-2)


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


@pytest.mark.parametrize(
    "close",
    [
        {"action": "close", "type": "limit", "price": "105", "sl": "90"},
        {"action": "close", "qty": "10", "type": "stop", "price": "95"},  # as much as is held
        {"action": "sell", "position_size": "0", "type": "limit", "price": "106", "tp": "80"},
        {"action": "close", "position_size": "0", "type": "stop", "price": "95"},
    ],
)
def test_a_close_of_it_all_goes_at_market_whatever_its_order_type_and_exits(
    alerts: Alerts, close: dict[str, str]
) -> None:
    """A resting reduce-only close of the whole position would block the bot's own stop-loss,
    and the entries left working could reopen it: a close of it all is a flatten, and explain
    says it goes at market."""
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10", "sl": "95"})
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "1", "type": "limit", "price": "99"})
    asked = {**close, "symbol": "AAPL"}
    [shown] = explain(alerts, asked)["orders"]
    if "qty" not in close:  # (explain sizes nothing: a quantity it cannot weigh against holdings)
        assert (shown["order_type"], shown["price"], shown["stop_loss"]) == ("MARKET", None, None)
    entry = alerts.run(asked)
    assert entry.status is AlertStatus.EXECUTED, entry
    assert alerts.position() == D(0)
    assert working(alerts) == []


def test_a_partial_close_goes_at_market_and_the_stop_loss_still_fires(alerts: Alerts) -> None:
    """A resting reduce-only close would block the bot's stop-loss (reduce-only orders may
    not add up to more than is held): every close goes at market, and explain says so."""
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10", "sl": "95"})
    asked = {"action": "close", "symbol": "AAPL", "qty": "4", "type": "limit", "price": "105"}
    [shown] = explain(alerts, asked)["orders"]
    assert (shown["order_type"], shown["price"], shown["quantity"]) == ("MARKET", None, "4")
    entry = alerts.run(asked)
    [order] = sent(alerts, entry)
    assert (order.status, order.order_type, order.reduce_only) == (
        OrderStatus.FILLED,
        OrderType.MARKET,
        True,
    )
    assert alerts.position() == D(6)
    alerts.desk.quote(AAPL, "94")
    alerts.desk.exits.on_mark(AAPL.id, D(94))
    assert alerts.position() == D(0)  # the stop-loss got out


@pytest.mark.parametrize("symbol", [{"symbol": "AAPL"}, {}])
def test_a_flatten_shows_and_closes_all_of_it_and_takes_a_target_of_zero(
    alerts: Alerts, symbol: dict[str, str]
) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    for n, asked in enumerate(({"action": "flatten"}, {"action": "flatten", "position_size": "0"})):
        [shown] = explain(alerts, {**asked, **symbol})["orders"]
        assert (shown["quantity"], shown["sizing"]) == (None, "all of the position")
        entry = alerts.run({**asked, **symbol, "n": n})
        assert entry.status is AlertStatus.EXECUTED, entry
        assert alerts.position() == D(0)
        alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10", "n": 10 + n})


def test_a_target_of_zero_cancels_the_resting_entries_and_closes(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10"})
    alerts.run(
        {"action": "buy", "symbol": "AAPL", "position_size": "15", "type": "limit", "price": "95"}
    )
    assert len(working(alerts)) == 1  # buying 5 more at 95
    flat = alerts.run({"action": "sell", "symbol": "AAPL", "position_size": "0"})
    assert flat.status is AlertStatus.EXECUTED, flat
    assert alerts.position() == D(0)
    assert working(alerts) == []  # the resting buy cannot reopen it
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(0)


def test_a_target_sent_again_while_its_order_rests_replaces_that_order(alerts: Alerts) -> None:
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    [first] = working(alerts)
    again = alerts.run({**target, "price": "96", "n": 2})  # TradingView fired it once more
    assert again.status is AlertStatus.EXECUTED, again
    [second] = working(alerts)  # one order for the 10, at the new price
    assert (second.quantity.value, second.price.value) == (D(10), D(96))
    assert alerts.desk.order(first.client_order_id.value).status is OrderStatus.CANCELED
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)  # not 20


def test_a_target_already_held_cancels_the_bots_orders_that_would_move_it(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10"})
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5", "type": "limit", "price": "95"})
    other = alerts.run(
        {"action": "buy", "symbol": "MSFT", "qty": "5", "type": "limit", "price": "95"}
    )
    assert other.status is AlertStatus.EXECUTED, other
    held = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 2})
    assert held.status is AlertStatus.EXECUTED, held
    assert any("already 10" in note for note in notes(held))
    assert [o.instrument_id for o in working(alerts)] == [MSFT.id]  # another symbol's stays
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


def test_a_target_at_market_with_an_order_resting_ends_at_the_target(alerts: Alerts) -> None:
    alerts.run(
        {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit", "price": "95"}
    )
    entry = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 2})
    assert entry.status is AlertStatus.EXECUTED, entry
    assert working(alerts) == []
    alerts.desk.quote(AAPL, "94")
    assert alerts.position() == D(10)


class CancelsUnanswered(ForwardingBroker):
    """A remote venue that has not answered cancels yet (they stay pending)."""

    def cancel(self, order: Order) -> None:
        raise VenueUnavailableError("no answer yet")


def test_a_target_waits_for_the_cancel_of_the_order_it_replaces() -> None:
    alerts = Alerts(remote=CancelsUnanswered)  # type: ignore[arg-type]
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    again = alerts.run({**target, "price": "96", "n": 2})
    assert (again.status, again.reason) == (AlertStatus.DENIED, "WORKING_ORDER_NOT_CANCELED")
    assert any("not confirmed" in note for note in notes(again)), again
    [first] = working(alerts)  # pending its cancel; no second order beside it
    assert first.status is OrderStatus.PENDING_CANCEL
    alerts.desk.quote(AAPL, "94")  # the cancel lost the race: it fills
    assert alerts.position() == D(10)  # not 20


@pytest.mark.parametrize("remote", [False, True])
def test_a_target_counts_an_order_that_filled_before_its_cancel(remote: bool) -> None:
    alerts = Alerts(remote=remote)
    alerts.run(
        {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit", "price": "95"}
    )
    # The venue fills it; the engine hears of it only as the next target cancels it.
    alerts.desk.paper.on_quote(Quote(AAPL.id, alerts.desk.clock.now(), D(94)))
    again = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 2})
    assert again.status is AlertStatus.EXECUTED, again
    assert any("already 10" in note for note in notes(again)), again
    assert alerts.position() == D(10)  # not 20


@pytest.mark.parametrize(
    "refused",
    [{"sl": "97"}, {"paused": True}],  # a long's stop above its entry; a paused bot
)
def test_a_target_that_is_refused_cancels_nothing(refused: dict[str, object]) -> None:
    alerts = Alerts()
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    if refused.pop("paused", False):
        alerts.bots.move(ALPHA, "pause", by="test")
    bad = alerts.run({**target, "price": "96", "n": 2, **refused})
    assert bad.status is AlertStatus.DENIED, bad
    [still] = working(alerts)  # the order it would have replaced
    assert still.price.value == D(95)


def test_a_target_retried_after_its_fate_was_lost_lists_the_orders_it_canceled() -> None:
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    target = {"action": "buy", "symbol": "AAPL", "position_size": "10", "type": "limit"}
    alerts.run({**target, "price": "95"})
    [first] = working(alerts)
    inbox.failures = 1
    answer = alerts.post({**target, "price": "96", "n": 2})
    assert alerts.processor.drain() == 0  # sent, but its fate could not be recorded
    assert alerts.processor.drain() == 1  # the retry: answered from the journal
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    rows = [(r["action"], r["client_order_id"]) for r in entry.fate["orders"]]
    assert rows[0] == ("cancel", first.client_order_id.value), rows
    assert [o.price.value for o in working(alerts)] == [D(96)]


def test_a_target_already_held_is_not_denied_while_a_cancel_is_pending() -> None:
    alerts = Alerts(remote=CancelsUnanswered)  # type: ignore[arg-type]
    alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10"})
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5", "type": "limit", "price": "95"})
    held = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10", "n": 2})
    assert held.status is AlertStatus.EXECUTED, held  # nothing was to be sent
    assert [o.status for o in working(alerts)] == [OrderStatus.PENDING_CANCEL]


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


def test_an_alert_is_stale_or_not_as_a_whole_not_leg_by_leg(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pair trade that fired 59 s before it came, processed while the clock passes the
    hook's 60 s: both legs go (its age is judged once), never one of them."""
    plan = alerts.processor._planner.plan

    def slow(*args: Any, **kwargs: Any) -> Any:
        alerts.desk.clock.advance(timedelta(seconds=1.5))
        return plan(*args, **kwargs)

    monkeypatch.setattr(alerts.processor._planner, "plan", slow)
    fired = alerts.desk.clock.now() - timedelta(seconds=59)
    pair = [
        {"action": "sell", "symbol": "MSFT", "qty": "10", "timenow": fired.isoformat()},
        {"action": "buy", "symbol": "AAPL", "qty": "10", "timenow": fired.isoformat()},
    ]
    body = json.dumps([{**leg, "secret": SECRET} for leg in pair])
    answer = alerts.post(body)
    assert answer["http"] == 200, answer
    alerts.processor.drain()
    assert (alerts.position(instrument=MSFT.id), alerts.position()) == (D(-10), D(10))


def test_a_pair_trade_retried_after_the_max_lag_sends_its_second_leg() -> None:
    """The first leg went to a remote venue, then the link dropped before the second: the
    retry comes after the hook's max lag, but the alert was judged fresh when it began, so
    its second leg goes too (refused as stale, the pair was left one-legged)."""
    alerts = Alerts(remote=True)
    drop_link_once(alerts.desk.engine, AAPL.id)
    pair = [
        {"action": "sell", "symbol": "MSFT", "qty": "10"},
        {"action": "buy", "symbol": "AAPL", "qty": "10"},
    ]
    answer = alerts.post(json.dumps([{**leg, "secret": SECRET} for leg in pair]))
    assert answer["http"] == 200, answer
    assert alerts.processor.drain() == 0  # MSFT sold, then the link dropped
    assert alerts.position(instrument=MSFT.id) == D(-10)
    alerts.desk.clock.advance(timedelta(seconds=61))  # past the hook's max lag of 60 s
    assert alerts.processor.drain() == 1
    assert (alerts.position(instrument=MSFT.id), alerts.position()) == (D(-10), D(10))
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.EXECUTED, entry


def test_an_alert_first_processed_after_the_max_lag_is_still_refused_stale() -> None:
    alerts = Alerts()
    answer = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "10"})
    alerts.desk.clock.advance(timedelta(seconds=61))
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.reason == "stale", entry
    assert alerts.position() == D(0)
