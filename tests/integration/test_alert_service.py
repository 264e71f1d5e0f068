"""Alerts through the intake and the processor to the engine and the paper exchange: sizing,
exits, targets, the other actions, rejections, resends, and failures that must not lose an
alert answered 2xx."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from algodesk.adapters.signals.tradingview import TradingViewParser
from algodesk.adapters.storage.memory.hooks import InMemoryHookStore
from algodesk.adapters.storage.memory.inbox import InMemoryInbox
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.bots import Bot
from algodesk.domain.commands import CancelOrder, Command
from algodesk.domain.identifiers import BotId, ClientOrderId, InstrumentId
from algodesk.domain.ledger.entries import EntryKind
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderStatus
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.values import money
from algodesk.ports.inbox import AlertStatus, InboxEntry, NewAlert, Settlement
from algodesk.ports.webhooks import Hook
from algodesk.services import alerts as alert_service
from algodesk.services.alert_orders import OrderPlanner
from algodesk.services.alerts import MAX_ATTEMPTS, AlertIntake, AlertProcessor
from algodesk.services.backlog import AlertBacklog
from algodesk.services.bots import BotService
from algodesk.services.demo import PAPER_BOT
from algodesk.services.outcomes import Outcome
from algodesk.services.webhooks import HookService
from algodesk.testing.clock import Ticks
from tests.conftest import ACCOUNT
from tests.desks import FAST_HASHER, demo_runtime
from tests.faults import FailingCommits
from tests.integration.test_engine import (
    AAPL,
    BOT,
    MSFT,
    PAPER,
    USD,
    Desk,
    RemoteVenue,
    funded_desk,
)

D = Decimal
SECRET = "s3cret-value"


class FlakyInbox(InMemoryInbox):
    """An inbox whose first ``failures`` batch settles fail (writing nothing), as a busy
    database would; it notes the entry ids of every batch it is asked to settle."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[list[int]] = []

    def settle_many(self, settlements: Sequence[Settlement], at: datetime) -> list[InboxEntry]:
        self.batches.append([s.entry_id for s in settlements])
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database is locked")
        return super().settle_many(settlements, at)


class BrokenHooks(InMemoryHookStore):
    """A hook store that can no longer be read (every processing attempt fails)."""

    broken = False

    def get(self, hook_id: str) -> Hook | None:
        if self.broken:
            raise RuntimeError("disk I/O error")
        return super().get(hook_id)


class Alerts:
    def __init__(
        self,
        inbox: InMemoryInbox | None = None,
        *,
        remote: bool | type[RemoteVenue] = False,
        backlog: AlertBacklog | None = None,
        batch_seconds: float | None = None,
    ) -> None:
        """``remote``: the paper exchange behind a wrapper that makes it a remote venue (each
        order stored and sent on its own, not in an engine batch), or behind this wrapper.
        ``backlog``: shared by the intake and the processor, as the desk wires them."""
        wrapper = RemoteVenue if remote is True else remote
        venue = {"venue": wrapper} if wrapper else {}
        self.desk: Desk = funded_desk(bots=BotService, **venue)  # type: ignore[arg-type]
        self.desk.quote(MSFT, "100")
        assert self.desk.bots is not None
        self.bots = self.desk.bots
        for name in ("alpha", "beta"):
            self.bots.create(
                Bot(
                    id=BotId(name),
                    account_id=ACCOUNT,
                    venue=PAPER,
                    allocation=money("40000", USD),
                    limits=RiskLimits(max_orders_per_second=None),
                    symbol_map={"AAPL": AAPL.id, "MSFT": MSFT.id},
                ),
                by="test",
            )
            self.bots.move(BotId(name), "start", by="test")
        self.hooks = BrokenHooks()
        self.inbox = inbox or InMemoryInbox()
        self.hook = HookService(self.hooks, self.desk.clock).create(
            self.bots.get(BOT),  # type: ignore[arg-type]
            secret=SECRET,
        )
        parser = TradingViewParser()
        self.intake = AlertIntake(self.hooks, self.inbox, parser, self.desk.clock, backlog=backlog)
        planner = OrderPlanner(self.desk.engine, self.desk.market)
        self.processor = AlertProcessor(
            self.inbox,
            self.hooks,
            parser,
            self.bots,
            self.desk.engine,
            planner,
            self.desk.clock,
            backlog,
            batch_seconds=batch_seconds,
        )

    def post(self, message: dict[str, object] | str, secret: str | None = SECRET) -> dict:  # type: ignore[type-arg]
        if isinstance(message, dict):
            body = json.dumps({**message, **({"secret": secret} if secret else {})}).encode()
        else:
            body = message.encode()
        answer = self.intake.receive(self.hook.token, body, "127.0.0.1")
        return {**answer.body, "http": answer.status}

    def run(self, message: dict[str, object]) -> InboxEntry:
        answer = self.post(message)
        assert answer["http"] == 200, answer
        self.processor.drain()
        entry = self.inbox.get(int(answer["alert_id"]))
        assert entry is not None
        return entry

    def position(self, bot: str = "alpha", instrument: object = AAPL.id) -> Decimal:
        return self.desk.engine.position(ACCOUNT, BotId(bot), instrument)  # type: ignore[arg-type]


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


def test_percent_of_equity_sizing_with_exits_placed_on_the_right_side_of_a_short(
    alerts: Alerts,
) -> None:
    entry = alerts.run(
        {"action": "sell", "symbol": "AAPL", "quantity": "10%", "sl": "2%", "tp_points": "5"}
    )
    assert entry.status is AlertStatus.EXECUTED, entry
    # 10 % of the bot's 40,000 at a mark of 100: 40 units short.
    assert alerts.position() == D(-40)
    # The stop of a short lies above its entry: a mark of 102.50 triggers it.
    alerts.desk.quote(AAPL, "102.50")
    alerts.desk.exits.on_mark(AAPL.id, D("102.50"))
    assert alerts.position() == D(0)


def test_a_target_below_the_long_position_is_a_reduce_only_sell(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "10"})
    entry = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "4"})
    assert entry.status is AlertStatus.EXECUTED, entry
    [row] = entry.fate["orders"]  # type: ignore[misc]
    order = alerts.desk.order(row["client_order_id"])
    assert (order.side.value, order.quantity.value, order.reduce_only) == ("SELL", D(6), True)
    assert alerts.position() == D(4)
    # A target that is already held is nothing to do, and says so.
    again = alerts.run({"action": "buy", "symbol": "AAPL", "position_size": "4", "n": 2})
    assert again.status is AlertStatus.EXECUTED
    assert "nothing to do" in again.fate["orders"][0]["message"]  # type: ignore[index]


def test_reverse_close_cancel_and_flatten(alerts: Alerts) -> None:
    alerts.run({"action": "buy", "symbol": "AAPL", "qty": "5"})
    alerts.run({"action": "reverse", "symbol": "AAPL"})
    assert alerts.position() == D(-5)
    alerts.run({"action": "close", "symbol": "AAPL"})
    assert alerts.position() == D(0)
    placed = alerts.run(
        {"action": "buy", "symbol": "MSFT", "order_type": "limit", "price": "90", "qty": "1"}
    )
    coid = placed.fate["orders"][0]["client_order_id"]  # type: ignore[index]
    assert alerts.desk.order(coid).status is OrderStatus.ACCEPTED
    alerts.run({"action": "cancel", "symbol": "MSFT"})
    assert alerts.desk.order(coid).status is OrderStatus.CANCELED
    alerts.run({"action": "buy", "symbol": "MSFT", "qty": "3"})
    alerts.run({"action": "flatten"})
    assert alerts.position(instrument=MSFT.id) == D(0)


def test_one_alert_trades_for_every_bot_it_names(alerts: Alerts) -> None:
    entry = alerts.run({"action": "buy", "symbol": "AAPL", "qty": "2", "bots": ["alpha", "beta"]})
    assert entry.status is AlertStatus.EXECUTED
    assert [r["bot"] for r in entry.fate["orders"]] == ["alpha", "beta"]  # type: ignore[union-attr]
    assert (alerts.position("alpha"), alerts.position("beta")) == (D(2), D(2))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"action": "buy", "symbol": "TSLA", "qty": "1"}, "unknown_symbol"),
        ({"action": "buy", "symbol": "AAPL", "qty": "1", "bots": ["ghost"]}, "unknown_bot"),
    ],
)
def test_an_alert_that_maps_to_no_order_is_rejected_and_its_resend_is_a_duplicate(
    alerts: Alerts, message: dict[str, object], reason: str
) -> None:
    entry = alerts.run(message)
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, reason)
    resend = alerts.post(message)
    assert (resend["http"], resend["duplicate"]) == (200, True)
    assert alerts.desk.engine.open_orders(ACCOUNT) == []


def test_the_body_secret_is_required_and_a_bad_one_is_refused_on_every_resend(
    alerts: Alerts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for secret in (None, "wrong-secret", "wrong-secret"):
        answer = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1"}, secret=secret)
        assert (answer["http"], answer["reason"]) == (401, "bad_secret")
        assert SECRET not in answer["message"]
    alerts.processor.drain()
    assert alerts.position() == D(0)
    assert SECRET not in caplog.text
    assert alerts.hook.token not in caplog.text


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        # the right secret: the body's own fault is told
        (
            f'{{"action": "buy", "symbol": "AAPL", "qty": "1,000", "secret": "{SECRET}"}}',
            422,
            "bad_value",
        ),
        (
            f'{{"action": "buy", "symbol": "AAPL", "qty": "{{{{strategy.order.contracts}}}}", '
            f'"secret": "{SECRET}"}}',
            422,
            "unresolved_placeholder",
        ),
        (f'{{"action": "buy", "symbol": "AAPL", "secret": "{SECRET}",}}', 422, "invalid_json"),
        # a wrong secret is refused before anything is told of the body
        (
            '{"action": "buy", "symbol": "AAPL", "qty": "1,000", "secret": "wrong-secret"}',
            401,
            "bad_secret",
        ),
        # a secret that is no string, after or before a wrong one: a bad secret, not told
        (
            '[{"action": "buy", "symbol": "AAPL", "secret": "wrong"}, {"action": "sell", '
            '"symbol": "MSFT", "secret": true}]',
            401,
            "bad_secret",
        ),
        (
            '[{"action": "buy", "symbol": "AAPL", "secret": true}, {"action": "sell", '
            '"symbol": "MSFT", "secret": "wrong"}]',
            401,
            "bad_secret",
        ),
        # the right secret on a later item of a list: the first item's fault is told
        (
            f'[{{"action": "buy", "symbol": "AAPL", "qty": "2.5x"}}, {{"action": "sell", '
            f'"symbol": "MSFT", "qty": "1", "secret": "{SECRET}"}}]',
            422,
            "unknown_units",
        ),
        # a body that reads well and has no secret, or has none and a fault of its own
        ('{"action": "buy", "symbol": "AAPL", "qty": "1"}', 401, "bad_secret"),
        ('{"action": "buy", "symbol": "AAPL", "qty": "1,000"}', 401, "bad_secret"),
    ],
)
def test_a_body_refused_for_its_own_fault_is_not_called_a_bad_secret(
    alerts: Alerts, body: str, status: int, reason: str
) -> None:
    answer = alerts.post(body)
    assert (answer["http"], answer["reason"]) == (status, reason), answer
    assert SECRET not in answer["message"]


def test_an_alert_from_the_future_is_stale(alerts: Alerts) -> None:
    later = alerts.desk.clock.now() + timedelta(minutes=5)
    answer = alerts.post(
        {
            "action": "buy",
            "symbol": "AAPL",
            "qty": "1",
            "timenow": later.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    assert (answer["http"], answer["reason"]) == (422, "stale")


def test_a_hook_with_the_allowlist_takes_tradingview_addresses_only(alerts: Alerts) -> None:
    bot = alerts.bots.get(BOT)
    assert bot is not None
    hook = HookService(alerts.hooks, alerts.desk.clock).create(bot, source_allowlist=True)
    body = b"BUY AAPL 1"
    refused = alerts.intake.receive(hook.token, body, "203.0.113.9")
    assert (refused.status, refused.body["reason"]) == (403, "forbidden_source")
    assert alerts.intake.receive(hook.token, body, "52.89.214.238").status == 200


def test_a_rotated_token_stops_working_and_the_new_one_works(alerts: Alerts) -> None:
    service = HookService(alerts.hooks, alerts.desk.clock)
    new = service.rotate(alerts.hook.id)
    body = json.dumps({"action": "buy", "symbol": "AAPL", "qty": "1", "secret": SECRET}).encode()
    assert alerts.intake.receive(alerts.hook.token, body).status == 401
    assert alerts.intake.receive(new.token, body).status == 200
    with pytest.raises(ValueError, match="at least 30 s"):
        service.create(alerts.bots.get(BOT), dedupe_window=timedelta(seconds=5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 8 characters"):
        service.create(alerts.bots.get(BOT), secret="short")  # type: ignore[arg-type]


def test_a_failure_after_the_order_keeps_the_alert_pending_and_the_retry_trades_nothing_new() -> (
    None
):
    alerts = Alerts(FlakyInbox(failures=1))
    answer = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "3"})
    assert alerts.processor.drain() == 0  # the order went out, recording its fate failed
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.PENDING
    assert alerts.position() == D(3)
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.EXECUTED
    assert alerts.position() == D(3)  # the retry found the first outcome: no second order
    assert len(alerts.desk.engine.book(ACCOUNT, BOT).positions) == 1


def _fills_and_ledger(alerts: Alerts) -> tuple[list[str], list[str]]:
    """The client order ids of every fill and of every FILL ledger entry, sorted."""
    with alerts.desk.factory() as uow:
        fills = sorted(f.client_order_id.value for f in uow.fills.list(ACCOUNT))
        booked = sorted(
            e.details["client_order_id"]
            for e in uow.ledger.entries(ACCOUNT)
            if e.kind is EntryKind.FILL
        )
    return fills, booked


def test_alerts_processed_in_a_row_are_settled_in_one_batch_and_heard_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch also closes after ENGINE_BATCH_SECONDS; on a loaded machine the first alert
    # alone can take longer than that, so the time cap is lifted here (tested below).
    monkeypatch.setattr(alert_service, "ENGINE_BATCH_SECONDS", 60.0)
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    heard: list[InboxEntry] = []
    alerts.processor.listeners.append(heard.append)
    ids = [
        int(alerts.post({"action": "buy", "symbol": symbol, "qty": qty})["alert_id"])
        for symbol, qty in (("AAPL", "2"), ("MSFT", "1"), ("AAPL", "3"))
    ]
    assert alerts.processor.drain() == 3
    assert inbox.batches == [ids]  # one settle for the drain
    assert [e.id for e in heard] == ids
    assert heard == [alerts.inbox.get(i) for i in ids]  # the entries as stored
    assert [e.status for e in heard] == [AlertStatus.EXECUTED] * 3


def test_a_batch_closes_when_its_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_service, "ENGINE_BATCH_SECONDS", 0.0)  # every alert is late
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    ids = [
        int(alerts.post({"action": "buy", "symbol": "AAPL", "qty": qty})["alert_id"])
        for qty in ("2", "1", "3")
    ]
    assert alerts.processor.drain() == 3
    assert inbox.batches == [[i] for i in ids]  # each alert settled on its own
    assert alerts.position() == D(6)


def test_a_processor_given_its_batch_time_closes_its_batches_by_it() -> None:
    inbox = FlakyInbox()
    alerts = Alerts(inbox)
    processor = AlertProcessor(
        inbox,
        alerts.hooks,
        TradingViewParser(),
        alerts.bots,
        alerts.desk.engine,
        OrderPlanner(alerts.desk.engine, alerts.desk.market),
        alerts.desk.clock,
        batch_seconds=0.0,  # every alert is late
    )
    ids = [
        int(alerts.post({"action": "buy", "symbol": "AAPL", "qty": qty})["alert_id"])
        for qty in ("2", "1")
    ]
    assert processor.drain() == 2
    assert inbox.batches == [[i] for i in ids]


def test_alert_batches_run_longer_where_writers_do_not_wait_for_each_other(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    init_storage(settings)
    runtime = DeskRuntime(open_desk(settings), hasher=FAST_HASHER)
    try:  # SQLite: the webhook's insert waits for a batch; PostgreSQL: it does not
        postgres = database_url.startswith("postgresql")
        assert runtime.processor.batch_seconds == (0.05 if postgres else 0.01)
    finally:
        runtime.desk.close()


def test_a_failed_batch_settle_leaves_every_alert_pending_and_the_replay_trades_nothing_new() -> (
    None
):
    inbox = FlakyInbox(failures=1)
    # One batch for the three, however long the first takes on a loaded machine (a batch
    # closes after ENGINE_BATCH_SECONDS, 10 ms: under load the first alert settled alone).
    alerts = Alerts(inbox, batch_seconds=60.0)
    messages: list[dict[str, object]] = [
        {"action": "buy", "symbol": "AAPL", "qty": "2"},
        {"action": "buy", "symbol": "MSFT", "qty": "1"},
        {"action": "buy", "symbol": "AAPL", "qty": "3", "bots": ["beta"]},
    ]
    ids = [int(alerts.post(m)["alert_id"]) for m in messages]
    assert alerts.processor.drain() == 0  # the orders went out, recording the batch failed
    assert inbox.batches == [ids]
    assert [e.id for e in alerts.inbox.pending()] == ids  # none of the batch is settled
    with alerts.desk.factory() as uow:
        sent = sorted(o.client_order_id.value for o in uow.orders.list(ACCOUNT))
    assert len(sent) == 3
    assert _fills_and_ledger(alerts) == (sent, sent)

    assert alerts.processor.drain() == 3  # processed again: every answer from the journal
    assert inbox.batches == [ids, ids]
    entries = [alerts.inbox.get(i) for i in ids]
    assert [e.status for e in entries if e is not None] == [AlertStatus.EXECUTED] * 3
    fated = sorted(
        str(e.fate["orders"][0]["client_order_id"])  # type: ignore[index]
        for e in entries
        if e is not None
    )
    assert fated == sent  # the orders of the first run, no others
    with alerts.desk.factory() as uow:
        assert sorted(o.client_order_id.value for o in uow.orders.list(ACCOUNT)) == sent
        for coid in sent:
            assert len(uow.fills.for_order(ClientOrderId(coid))) == 1
    assert _fills_and_ledger(alerts) == (sent, sent)  # each order filled and booked once
    assert (alerts.position(), alerts.position("beta")) == (D(2), D(3))
    assert alerts.position(instrument=MSFT.id) == D(1)
    assert alerts.processor.drain() == 0
    assert inbox.batches == [ids, ids]  # settled once: nothing left to settle


def test_an_alert_planned_afresh_on_a_replay_is_settled_before_the_next_alert_trades() -> None:
    """A target already held is "nothing to do", which no journal entry remembers: were the
    buy after it settled in the same batch and that batch lost, its replay would find the
    bought position and sell it. So its fate is recorded before the next alert acts."""
    inbox = FlakyInbox(failures=1)
    alerts = Alerts(inbox)
    # (an exit of a long when flat: nothing to close, which no journal entry remembers)
    target = alerts.post({"action": "exit_long", "symbol": "AAPL"})
    buy = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "3"})
    assert alerts.processor.drain() == 0
    assert inbox.batches == [[target["alert_id"]]]
    assert alerts.position() == D(0)  # the buy waits for the target's fate
    assert alerts.processor.drain() == 2
    assert inbox.batches == [[target["alert_id"]], [target["alert_id"]], [buy["alert_id"]]]
    first = alerts.inbox.get(int(target["alert_id"]))
    assert first is not None
    assert first.status is AlertStatus.EXECUTED
    assert "nothing to close" in first.fate["orders"][0]["message"]  # type: ignore[index]
    assert alerts.position() == D(3)


def _post_with_the_second_intent_failing(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """Post an alert of two intents (buy AAPL, buy MSFT) whose second fails on every attempt
    (the venue link is down for MSFT); the webhook's answer."""
    items = [
        {"action": "buy", "symbol": "AAPL", "qty": "2", "secret": SECRET},
        {"action": "buy", "symbol": "MSFT", "qty": "1", "secret": SECRET},
    ]
    answer: dict[str, object] = alerts.post(json.dumps(items))
    second = f"alert:{answer['alert_id']}:1:"
    real = alerts.desk.engine.handle

    def venue_down_for_the_second(command: Command) -> Outcome:
        if (command.idempotency_key or "").startswith(second):
            raise ConnectionError("the venue link is down")
        return real(command)

    monkeypatch.setattr(alerts.desk.engine, "handle", venue_down_for_the_second)
    return answer


def test_an_alert_failing_after_an_order_is_settled_with_the_order_it_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its first intent traded on a remote venue; its second fails on every attempt (the venue
    link is down for MSFT): the internal error lists the order the engine recorded, with its
    outcome."""
    alerts = Alerts(remote=True)
    answer = _post_with_the_second_intent_failing(alerts, monkeypatch)
    for _ in range(MAX_ATTEMPTS - 1):
        assert alerts.processor.drain() == 0
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "internal_error")
    assert entry.message == f"processing failed {MAX_ATTEMPTS} times; see the desk's log"
    sent = alerts.desk.engine.recorded(ACCOUNT, f"alert:{answer['alert_id']}:0:{BOT}")
    assert sent is not None
    assert sent.ok
    assert entry.fate["orders"] == [
        {
            "bot": BOT.value,
            "action": "buy",
            "symbol": "AAPL",
            "ok": True,
            "code": None,
            "message": sent.message,
            "client_order_id": sent.client_order_id,
            "status": sent.status,
        }
    ]
    order = alerts.desk.order(sent.client_order_id or "")
    assert (order.instrument_id, order.quantity.value) == (AAPL.id, D(2))
    assert order.status is OrderStatus.FILLED
    assert (alerts.position(), alerts.position(instrument=MSFT.id)) == (D(2), D(0))


def test_an_alert_that_always_fails_is_settled_as_an_internal_error_after_the_attempts(
    alerts: Alerts, caplog: pytest.LogCaptureFixture
) -> None:
    first = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1"})
    alerts.hooks.broken = True
    for _ in range(MAX_ATTEMPTS - 1):
        assert alerts.processor.drain() == 0
    entry = alerts.inbox.get(int(first["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.PENDING
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(first["alert_id"]))
    assert entry is not None
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "internal_error")
    # Its orders cannot be looked up either (its hook is unreadable): none listed, and it says so.
    assert entry.fate == {"orders": []}
    assert "could not be listed" in entry.message
    assert "could not be processed" in caplog.text  # the failures are logged...
    assert SECRET not in caplog.text  # ...without the alert's secret
    assert alerts.hook.token not in caplog.text


def test_an_alert_that_waited_too_long_in_the_inbox_is_not_executed(alerts: Alerts) -> None:
    fresh = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1"})
    alerts.processor.drain()
    late = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "2"})
    alerts.desk.clock.advance(timedelta(seconds=61))  # the desk was stopped, then came back
    alerts.processor.drain()
    done = alerts.inbox.get(int(fresh["alert_id"]))
    stale = alerts.inbox.get(int(late["alert_id"]))
    assert done is not None
    assert stale is not None
    assert done.status is AlertStatus.EXECUTED
    assert (stale.status, stale.reason) == (AlertStatus.REJECTED, "stale")
    assert "waited 61 s in the inbox" in stale.message
    assert alerts.position() == D(1)  # the old signal traded nothing


def test_an_alert_old_when_it_came_is_not_executed_once_it_is_older_than_the_max_lag(
    alerts: Alerts,
) -> None:
    fired = alerts.desk.clock.now() - timedelta(seconds=55)
    message = {"action": "buy", "symbol": "AAPL", "qty": "1", "timenow": fired.isoformat()}
    answer = alerts.post(message)
    assert answer["http"] == 200, answer  # 55 s old: within the hook's 60 s
    alerts.desk.clock.advance(timedelta(seconds=6))  # the alert thread was behind
    alerts.processor.drain()
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "stale")
    assert "waited 6 s in the inbox (the desk was stopped or behind), 61 s after it fired" in (
        entry.message
    )
    assert alerts.position() == D(0)


def test_a_cancel_of_several_orders_interrupted_midway_cancels_the_rest_on_retry(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    coids = [
        alerts.run(
            {"action": "buy", "symbol": "MSFT", "order_type": "limit", "price": px, "qty": "1"}
        ).fate["orders"][0]["client_order_id"]  # type: ignore[index]
        for px in ("90", "91")
    ]
    real = alerts.desk.engine.handle
    calls = {"cancels": 0}

    def crash_on_the_second_cancel(command: object) -> object:
        if isinstance(command, CancelOrder):
            calls["cancels"] += 1
            if calls["cancels"] == 2:
                raise RuntimeError("the process died here")
        return real(command)  # type: ignore[arg-type]

    monkeypatch.setattr(alerts.desk.engine, "handle", crash_on_the_second_cancel)
    answer = alerts.post({"action": "cancel", "symbol": "MSFT"})
    assert alerts.processor.drain() == 0  # failed midway: still pending
    assert alerts.processor.drain() == 1  # retried
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert entry.status is AlertStatus.EXECUTED, entry
    assert [alerts.desk.order(c).status for c in coids] == [OrderStatus.CANCELED] * 2


def test_an_alert_failing_midway_on_the_paper_exchange_leaves_nothing_behind(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the paper exchange an alert's orders are stored in one transaction with its batch:
    when its second intent fails, its first is undone with it, on every attempt, and the
    alert is given up with no orders (nothing was sent)."""
    answer = _post_with_the_second_intent_failing(alerts, monkeypatch)
    for _ in range(MAX_ATTEMPTS - 1):
        assert alerts.processor.drain() == 0
        assert alerts.position() == D(0)
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(answer["alert_id"]))
    assert entry is not None
    assert (entry.status, entry.reason, entry.fate["orders"]) == (
        AlertStatus.REJECTED,
        "internal_error",
        [],
    )
    assert alerts.desk.engine.recorded(ACCOUNT, f"alert:{answer['alert_id']}:0:{BOT}") is None
    assert alerts.desk.paper.working_orders == []
    assert (alerts.position(), alerts.position(instrument=MSFT.id)) == (D(0), D(0))
    assert alerts.desk.ledger.verify().ok


def test_a_batch_whose_commit_fails_is_redone_one_by_one_blaming_no_alert(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FailingCommits(alerts.desk.store)
    monkeypatch.setattr(alerts.desk.engine, "_uow_factory", storage)
    ids = [
        alerts.post({"action": "buy", "symbol": "AAPL", "qty": str(q)})["alert_id"]
        for q in (1, 2, 3)
    ]
    storage.fail_next = True  # the batch's one commit
    assert alerts.processor.drain() == 3  # none failed: all redone and settled at once
    fates = [alerts.inbox.get(int(str(i))) for i in ids]
    assert [f.status if f else None for f in fates] == [AlertStatus.EXECUTED] * 3
    assert alerts.position() == D(6)


def test_a_fate_the_inbox_cannot_take_does_not_hold_up_the_other_alerts(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that puts a non-JSON value in one alert's fate: that alert is settled as an
    internal error, the others of its batch as they went, and the inbox moves on."""
    ids = [
        int(str(alerts.post({"action": "buy", "symbol": "AAPL", "qty": str(q)})["alert_id"]))
        for q in (1, 2, 3)
    ]
    real = alert_service._row

    def buggy_row(*args: Any) -> dict[str, object]:
        row = real(*args)
        if row.get("quantity") == "2":
            row["oops"] = object()  # not JSON
        return row

    monkeypatch.setattr(alert_service, "_row", buggy_row)
    assert alerts.processor.drain() == 3
    fates = [alerts.inbox.get(i) for i in ids]
    assert [(f.status, f.reason) if f else None for f in fates] == [
        (AlertStatus.EXECUTED, None),
        (AlertStatus.REJECTED, "internal_error"),
        (AlertStatus.EXECUTED, None),
    ]
    assert alerts.position() == D(6)  # its order was sent and stands; its fate names it
    broken = fates[1]
    assert broken is not None
    named = broken.fate["orders"]
    assert isinstance(named, list)
    assert [row["ok"] for row in named] == [True]
    order = alerts.desk.order(named[0]["client_order_id"])
    assert (order.quantity.value, order.status) == (D(2), OrderStatus.FILLED)


def test_the_desk_keeps_the_webhooks_parse_only_for_an_alert_it_stored_as_pending(
    tmp_path: Path,
) -> None:
    """What waits for the alert thread is bounded by the pending alerts: a stale alert (refused
    on arrival) or a duplicate leaves nothing behind; processing takes what was kept."""
    runtime = demo_runtime(tmp_path)
    try:
        hook = runtime.hooks.active(PAPER_BOT)
        assert hook is not None
        parser = runtime.handover
        now = runtime.clock.now()

        def post(alert: dict[str, str]) -> int:
            answer = runtime.intake.receive(hook.token, json.dumps(alert).encode(), "127.0.0.1")
            return answer.status

        fresh = {"action": "buy", "symbol": "AAPL", "qty": "1", "timenow": now.isoformat()}
        assert post(fresh) == 200
        assert parser.waiting == 1
        assert post(fresh) == 200  # a resend: a duplicate
        stale = {**fresh, "timenow": (now - timedelta(hours=1)).isoformat()}
        assert post(stale) == 422
        assert parser.waiting == 1
        runtime.processor.drain()
        assert parser.waiting == 0
        assert post(fresh) == 200  # a resend after it was processed: nothing kept for it
        assert parser.waiting == 0
    finally:
        runtime.desk.close()


def test_an_alert_looks_its_keys_up_in_the_journal_once(tmp_path: Path) -> None:
    """An alert's key and its sliced-plan key are read in one query, and the order sent under
    the key asks nothing more of the journal: one journal SELECT per alert (a round trip each
    on PostgreSQL)."""
    runtime = demo_runtime(tmp_path)
    engine = runtime.desk.engine
    reads: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        if words[0].upper() == "SELECT" and "journal" in words[words.index("FROM") + 1]:
            reads.append(statement)

    try:
        hook = runtime.hooks.active(PAPER_BOT)
        assert hook is not None
        at = runtime.clock.now()
        runtime.market.on_event(Quote(InstrumentId("AAPL.PAPER"), at, D("190")))
        now = at.isoformat()
        for n in range(3):
            alert = {"action": "buy", "symbol": "AAPL", "qty": "1", "id": n, "timenow": now}
            answer = runtime.intake.receive(hook.token, json.dumps(alert).encode(), "127.0.0.1")
            assert answer.status == 200, answer.body
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert runtime.processor.drain() == 3
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        assert len(reads) == 3, reads
        assert all(" IN " in r.upper() for r in reads)
        fates = [e.status for e in runtime.inbox.list(limit=3)]
        assert fates == [AlertStatus.EXECUTED] * 3, [e.fate for e in runtime.inbox.list(limit=3)]
    finally:
        runtime.desk.close()


class SlowVenue(RemoteVenue):
    """The paper exchange behind a link that takes 30 ms per call."""

    def _before(self, name: str) -> None:
        super()._before(name)
        time.sleep(0.03)


def test_the_processor_reports_its_pace_and_alerts_it_would_reach_too_late_are_refused() -> None:
    backlog = AlertBacklog(timedelta(seconds=10))
    alerts = Alerts(remote=SlowVenue, backlog=backlog)
    # A hook that trades alerts up to 0.2 s old takes those it is expected to reach in 0.1 s.
    bot = alerts.bots.get(BOT)
    assert bot is not None
    alerts.hook = HookService(alerts.hooks, alerts.desk.clock).create(
        bot, secret=SECRET, max_lag=timedelta(seconds=0.2)
    )
    for n in range(2):
        assert alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": n})["http"] == 200
    assert alerts.processor.drain() == 2
    # Measured at 30 ms or more per alert, four alerts ahead are more than the 0.1 s limit.
    answers = [
        alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": n}) for n in range(2, 8)
    ]
    statuses = [a["http"] for a in answers]
    taken = statuses.index(503)
    assert 1 <= taken <= 4, statuses
    assert set(statuses[taken:]) == {503}
    assert answers[taken]["reason"] == "desk_behind"
    assert len(alerts.inbox.pending(100)) == taken  # refused alerts are not stored
    # Behind, what is not a new alert is answered as ever, and adds nothing to the wait.
    ahead = backlog.ahead
    resend = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": 2})
    assert (resend["http"], resend["duplicate"]) == (200, True)
    assert (
        alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1"}, secret="nope")["http"] == 401
    )
    assert backlog.ahead == ahead
    assert alerts.processor.drain() == taken
    assert backlog.ahead == 0
    late = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": 99})
    assert late["http"] == 200, late
    assert alerts.processor.drain() == 1
    assert alerts.position() == D(3 + taken)


def test_the_webhook_remembers_the_alerts_it_stored_for_two_minutes() -> None:
    alerts = Alerts()
    ticks = [0.0]
    intake = AlertIntake(
        alerts.hooks,
        alerts.inbox,
        TradingViewParser(),
        alerts.desk.clock,
        monotonic=lambda: ticks[0],
    )
    body = json.dumps({"action": "buy", "symbol": "AAPL", "qty": "1", "secret": SECRET}).encode()
    assert not intake.stored_recently(body)
    assert intake.receive(alerts.hook.token, body).status == 200
    ticks[0] += alert_service.RECENT_SECONDS
    assert intake.stored_recently(body)
    ticks[0] += 0.5
    assert not intake.stored_recently(body)


@pytest.mark.parametrize(("timed", "duplicate"), [(True, True), (False, False)])
def test_while_behind_a_resend_is_answered_as_the_dedupe_would_answer_it(
    timed: bool, duplicate: bool
) -> None:
    ticks = Ticks()
    alerts = Alerts(backlog=AlertBacklog(monotonic=ticks))
    bot = alerts.bots.get(BOT)
    assert bot is not None
    alerts.hook = HookService(alerts.hooks, alerts.desk.clock).create(
        bot, secret=SECRET, dedupe_window=timedelta(seconds=30), max_lag=timedelta(minutes=5)
    )
    stamp = {"timenow": alerts.desk.clock.now().isoformat()} if timed else {}
    message = {"action": "buy", "symbol": "AAPL", "qty": "1", **stamp}
    first = alerts.post(message)
    assert first["http"] == 200
    alerts.desk.clock.advance(timedelta(seconds=45))  # past the hook's dedupe window
    ticks.now += 12  # nothing settled for 12 s: the desk is behind
    again = alerts.post(message)
    if duplicate:  # a timed alert is the same alert, whenever it comes
        assert (again["http"], again["duplicate"]) == (200, True)
        assert again["alert_id"] == first["alert_id"]
    else:  # the same words 45 s later are a new signal: refused, not called a duplicate
        assert (again["http"], again["reason"]) == (503, "desk_behind")


def test_an_unrecordable_fate_keeps_whether_each_order_it_names_was_refused(
    alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stand-in fate of an alert whose own could not be recorded still says, per order,
    whether the engine took it: a denied order is not listed as sent."""
    answer = alerts.post({"action": "buy", "symbol": "AAPL", "qty": "100000"})  # no cash
    real = alert_service._row

    def buggy_row(*args: Any) -> dict[str, object]:
        row = real(*args)
        row["oops"] = object()  # not JSON
        return row

    monkeypatch.setattr(alert_service, "_row", buggy_row)
    assert alerts.processor.drain() == 1
    entry = alerts.inbox.get(int(str(answer["alert_id"])))
    assert entry is not None
    assert (entry.status, entry.reason) == (AlertStatus.REJECTED, "internal_error")
    named = entry.fate["orders"]
    assert isinstance(named, list)
    assert [row["ok"] for row in named] == [False]
    assert alerts.position() == D(0)


class MeddlingInbox(InMemoryInbox):
    """An inbox where something happens around the next ``add``: ``before`` runs before it
    stores, ``after`` after it stored (and may raise, as a lost answer would)."""

    def __init__(self) -> None:
        super().__init__()
        self.before: Callable[[], object] | None = None
        self.after: Callable[[], object] | None = None

    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        before, self.before = self.before, None
        if before is not None:
            before()
        stored = super().add(alert)
        after, self.after = self.after, None
        if after is not None:
            after()
        return stored


def _desk() -> tuple[Alerts, MeddlingInbox, Ticks]:
    """Alerts over a meddling inbox, with one alert stored and waiting: the desk falls behind
    as ``ticks`` move (nothing is settled)."""
    ticks = Ticks()
    inbox = MeddlingInbox()
    alerts = Alerts(inbox, backlog=AlertBacklog(monotonic=ticks))
    assert alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": "first"})["http"] == 200
    return alerts, inbox, ticks


def test_an_idle_spell_is_not_time_per_alert_when_the_alert_thread_polls_first() -> None:
    ticks = Ticks()
    inbox = MeddlingInbox()
    alerts = Alerts(inbox, backlog=AlertBacklog(monotonic=ticks))
    ticks.now += 3600  # idle for an hour
    # The alert thread's twice-a-second poll settles the alert before the webhook says so.
    inbox.after = alerts.processor.drain
    assert alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": 0})["http"] == 200
    for n in (1, 2):  # the rest of the basket
        assert alerts.post({"action": "buy", "symbol": "AAPL", "qty": "1", "n": n})["http"] == 200


def test_a_twin_delivered_while_the_first_is_being_stored_is_not_told_not_stored() -> None:
    alerts, inbox, ticks = _desk()
    stamp = alerts.desk.clock.now().isoformat()
    message = {"action": "buy", "symbol": "AAPL", "qty": "1", "timenow": stamp}
    twin: dict[str, object] = {}

    def meanwhile() -> None:  # while the first is being stored, the desk falls behind
        ticks.now += 12
        twin.update(alerts.post(message))

    inbox.before = meanwhile
    first = alerts.post(message)
    # One of them is stored, and both are answered as that alert.
    assert (first["http"], twin["http"]) == (200, 200), (first, twin)
    assert first["alert_id"] == twin["alert_id"]
    assert {first["duplicate"], twin["duplicate"]} == {True, False}


def test_a_resend_after_an_answer_lost_with_the_commit_is_its_duplicate_while_behind() -> None:
    alerts, inbox, ticks = _desk()
    message = {"action": "buy", "symbol": "AAPL", "qty": "2"}

    def lost() -> None:
        raise RuntimeError("connection reset after COMMIT")

    inbox.after = lost
    with pytest.raises(RuntimeError):  # stored, but the webhook answers 503 unavailable
        alerts.post(message)
    ticks.now += 12  # the desk falls behind before TradingView resends
    body = json.dumps({**message, "secret": SECRET}).encode()
    assert alerts.intake.refuse_early(body) is None  # let through to the dedupe
    resend = alerts.post(message)
    assert (resend["http"], resend["duplicate"]) == (200, True)
    entry = alerts.inbox.get(int(str(resend["alert_id"])))
    assert entry is not None
    assert entry.duplicates == 1  # counted, as any duplicate
    new = {"action": "buy", "symbol": "AAPL", "qty": "3"}
    refused = alerts.post(new)
    assert (refused["http"], refused["reason"]) == (503, "desk_behind")
    new_body = json.dumps({**new, "secret": SECRET}).encode()
    assert alerts.intake.refuse_early(new_body) is not None  # its resends: refused cheaply


class SlowStore(InMemoryInbox):
    """An inbox whose store of one body waits until released (a commit that takes long)."""

    def __init__(self, slow: bytes) -> None:
        super().__init__()
        self.slow = slow
        self.entered = threading.Event()
        self.release = threading.Event()

    def add(self, alert: NewAlert) -> tuple[InboxEntry, bool]:
        if alert.body == self.slow:
            self.entered.set()
            assert self.release.wait(10)
        return super().add(alert)


def test_a_webhook_without_timenow_waits_only_for_its_own_twins() -> None:
    """The windowed dedupe looks for a twin before it stores, one at a time per body: another
    body's slow store does not hold it up (all such webhooks waited for each other's commits),
    and deliveries of one body at once still store it once."""
    slow = json.dumps({"action": "buy", "symbol": "AAPL", "qty": "1", "secret": SECRET}).encode()
    inbox = SlowStore(slow)
    alerts = Alerts(inbox)
    held_up = threading.Thread(target=alerts.intake.receive, args=(alerts.hook.token, slow))
    held_up.start()
    assert inbox.entered.wait(10)
    answered: list[dict] = []  # type: ignore[type-arg]
    other = threading.Thread(
        target=lambda: answered.append(alerts.post({"action": "sell", "symbol": "AAPL"}))
    )
    other.start()
    other.join(timeout=5)
    done_first = bool(answered)
    inbox.release.set()
    held_up.join(timeout=10)
    other.join(timeout=10)
    assert done_first, "another body's webhook waited for the slow store"
    assert answered[0]["http"] == 200, answered

    twin = {"action": "buy", "symbol": "MSFT", "qty": "1"}
    results: list[dict] = []  # type: ignore[type-arg]
    twins = [threading.Thread(target=lambda: results.append(alerts.post(twin))) for _ in range(8)]
    for t in twins:
        t.start()
    for t in twins:
        t.join(timeout=10)
    assert [r["duplicate"] for r in results].count(False) == 1, results
    assert len({r["alert_id"] for r in results}) == 1
