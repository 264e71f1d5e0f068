"""Alerts of several legs retried past the max lag (from review probes): the legs an earlier
try had not tried are sent, so a pair is not left one-legged; the legs it had tried, whatever
became of them (nothing to do, refused while planning, a close per option contract), are
judged stale and never traded late."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from algodesk.ports.inbox import AlertStatus
from tests.faults import drop_link_once
from tests.integration.test_alert_service import SECRET, Alerts, FlakyInbox
from tests.integration.test_engine import AAPL, MSFT

D = Decimal


def test_a_leg_the_first_try_found_nothing_to_do_is_not_traded_by_a_late_retry() -> None:
    """First try (fresh): leg 1, a target of 10 AAPL, is already held (nothing to do: nothing
    journaled); leg 2 sells MSFT. Its fate cannot be recorded. The AAPL position is closed
    meanwhile; the retry comes past the max lag: leg 1 was tried, so it is judged stale and
    buys nothing on a signal 61 s old."""
    from algodesk.domain.commands import Flatten
    from tests.conftest import ACCOUNT
    from tests.integration.test_alert_actions import ALPHA

    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "10"})
    assert alerts.position() == D(10)
    pair = [
        {"action": "buy", "symbol": "AAPL", "position_size": "10"},
        {"action": "sell", "symbol": "MSFT", "qty": "10"},
    ]
    inbox.failures = 1
    answer = alerts.post(json.dumps([{**leg, "secret": SECRET} for leg in pair]))
    assert answer["http"] == 200, answer
    assert alerts.processor.drain() == 0  # both legs handled; the fate was lost
    assert alerts.position(instrument=MSFT.id) == D(-10)
    alerts.desk.engine.handle(
        Flatten(account_id=ACCOUNT, bot_id=ALPHA, instrument_id=AAPL.id, idempotency_key="x")
    )
    assert alerts.position() == D(0)
    alerts.desk.clock.advance(timedelta(seconds=61))
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert alerts.position() == D(0), (entry.status, entry.fate)


def test_an_option_leg_refused_for_its_spot_is_not_bought_by_a_retry_past_the_max_lag() -> None:
    """A pair: the option leg is refused stale_spot on the first try (nothing journaled), the
    future leg is bought; the fate is lost. When the retry comes, 61 s later, the spot is
    fresh: the option leg was tried, so it is judged stale, not bought on the old signal."""
    from tests.integration.test_option_alerts import FUT, OTM2, SPOT, OptionDesk, T

    desk = OptionDesk()
    desk.quote(SPOT, "26012.5", at=T - timedelta(minutes=5))  # stale spot
    desk.quote(OTM2, "100")
    desk.quote(FUT, "26050")
    real = desk.inbox.settle_many
    failures = [1]

    def settle_many(batch, at):  # type: ignore[no-untyped-def]
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("database is locked")
        return real(batch, at)

    desk.inbox.settle_many = settle_many  # type: ignore[method-assign]
    pair = [
        {"action": "buy", "symbol": "NIFTY_CE"},
        {"action": "buy", "symbol": "NIFTYFUT", "qty": "65"},
    ]
    answer = desk.intake.receive(desk.hook.token, json.dumps(pair).encode(), "127.0.0.1")
    assert answer.status == 200, answer.body
    assert desk.processor.drain() == 0
    assert (desk.position(OTM2), desk.position(FUT)) == (D(0), D(65))
    desk.clock.advance(timedelta(seconds=61))
    desk.quote(SPOT, "26012.5")  # fresh now
    assert desk.processor.drain() == 1
    entry = desk.inbox.get(int(answer.body["alert_id"]))  # type: ignore[call-overload]
    assert entry is not None
    assert desk.position(OTM2) == D(0), (entry.status, entry.fate)


def test_a_pair_whose_first_leg_closed_an_option_symbol_is_not_left_one_legged() -> None:
    """A pair whose first leg closes an option symbol (its flattens journaled per contract),
    the link dropping before the second: the retry past the max lag sends the second leg (it
    was refused stale: the pair was left one-legged)."""

    from tests.integration.test_option_alerts import FUT, OTM2, SPOT, OptionDesk

    desk = OptionDesk(remote=True)
    desk.quote(SPOT, "26012.5")
    desk.quote(OTM2, "100")
    desk.quote(FUT, "26050")
    held = desk.run({"action": "buy", "symbol": "NIFTY_CE", "qty": "65"})
    assert held.status is AlertStatus.EXECUTED, held
    assert desk.position(OTM2) == D(65)
    drop_link_once(desk.engine, FUT)
    pair = [
        {"action": "close", "symbol": "NIFTY_CE"},
        {"action": "buy", "symbol": "NIFTYFUT", "qty": "65"},
    ]
    answer = desk.intake.receive(desk.hook.token, json.dumps(pair).encode(), "127.0.0.1")
    assert answer.status == 200, answer.body
    assert desk.processor.drain() == 0  # closed the option, then the link dropped
    assert desk.position(OTM2) == D(0)
    desk.clock.advance(timedelta(seconds=61))
    assert desk.processor.drain() == 1
    entry = desk.inbox.get(int(answer.body["alert_id"]))  # type: ignore[call-overload]
    assert entry is not None
    assert desk.position(FUT) == D(65), (entry.status, entry.reason, entry.fate)


def test_a_leg_that_failed_before_sending_is_sent_by_a_late_retry() -> None:
    """Outside an engine batch (alerts redone one by one after a failed commit), a leg noted as
    tried whose command never went is sent by a retry past the max lag (it was judged stale:
    the pair was left one-legged)."""
    alerts = Alerts()
    engine = alerts.desk.engine
    real_commit = engine._commit_batch  # type: ignore[attr-defined]
    commit_failures = [1]

    def commit(batch: Any) -> Any:  # the batch's commit fails once: alerts go one by one
        if commit_failures[0]:
            commit_failures[0] -= 1
            raise RuntimeError("database is locked")
        return real_commit(batch)

    engine._commit_batch = commit  # type: ignore[attr-defined,method-assign]
    dropped = drop_link_once(engine, MSFT.id, when=lambda: not commit_failures[0])
    pair = [
        {"action": "buy", "symbol": "AAPL", "qty": "10"},
        {"action": "buy", "symbol": "MSFT", "qty": "10"},
    ]
    answer = alerts.post(json.dumps([{**leg, "secret": SECRET} for leg in pair]))
    assert answer["http"] == 200, answer
    assert alerts.processor.drain() == 0
    assert dropped, "the MSFT leg was not attempted"
    assert alerts.position() == D(10)
    assert alerts.position(instrument=MSFT.id) == D(0)
    alerts.desk.clock.advance(timedelta(seconds=61))
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert alerts.position(instrument=MSFT.id) == D(10), (entry.status, entry.fate)
