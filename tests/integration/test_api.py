"""The HTTP API in process (FastAPI's test client over a wired runtime): roles, the two-step
kill switch, secrets masked in the inbox, forwarded addresses, and ``serve``'s refusals."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from starlette.requests import Request
from typer.testing import CliRunner

from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.users import Role
from algodesk.entrypoints.api.app import create_app
from algodesk.entrypoints.api.intake_queue import IntakeQueue
from algodesk.entrypoints.api.webhooks import client_address
from algodesk.entrypoints.cli.app import app as cli
from algodesk.ports.storage import JournalRecord
from algodesk.services.backlog import AlertBacklog
from algodesk.services.demo import PAPER_ACCOUNT, PAPER_BOT
from algodesk.services.stream import EventHub
from algodesk.testing.clock import Ticks
from tests.desks import FAST_HASHER, PASSWORD, demo_runtime, refused_serve
from tests.integration.test_api_admin import Reader
from tests.waiting import until


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskRuntime, TestClient]]:
    runtime = demo_runtime(tmp_path)
    runtime.auth.create_user("watcher", "viewer-password-1", Role.VIEWER, by=None)
    with TestClient(create_app(runtime)) as client:
        yield runtime, client
    runtime.desk.close()


def login(client: TestClient, user: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_viewer_reads_but_cannot_trade_or_pull_the_kill_switch(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    viewer = login(client, "watcher", "viewer-password-1")
    assert client.get("/api/v1/orders", headers=viewer).status_code == 200
    order = {"account": "paper", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": "1"}
    refused = client.post("/api/v1/orders", json=order, headers=viewer)
    assert (refused.status_code, refused.json()["reason"]) == (403, "forbidden")
    kill = client.post("/api/v1/kill-switch", json={"reason": "test"}, headers=viewer)
    assert kill.status_code == 403
    wrong = client.post(
        "/api/v1/auth/login", json={"username": "watcher", "password": "not-the-password"}
    )
    assert (wrong.status_code, wrong.json()["reason"]) == (401, "bad_credentials")


def test_the_kill_switch_halts_only_after_its_confirmation(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    admin = login(client, "admin", PASSWORD)
    asked = client.post("/api/v1/kill-switch", json={"reason": "drill"}, headers=admin)
    assert asked.status_code == 202
    state = client.get("/api/v1/trading-state", headers=admin).json()
    assert state["accounts"]["paper"] == "ACTIVE"
    bad = client.post("/api/v1/kill-switch/confirm", json={"confirm": "guess"}, headers=admin)
    assert (bad.status_code, bad.json()["reason"]) == (409, "no_confirmation")
    done = client.post(
        "/api/v1/kill-switch/confirm", json={"confirm": asked.json()["confirm"]}, headers=admin
    )
    assert done.status_code == 200, done.text
    assert client.get("/api/v1/trading-state", headers=admin).json()["accounts"] == {
        "paper": "HALTED"
    }
    again = client.post(
        "/api/v1/kill-switch/confirm", json={"confirm": asked.json()["confirm"]}, headers=admin
    )
    assert again.status_code == 409  # a code works once


def test_the_risk_stream_tells_who_pulled_the_kill_switch_and_why(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    admin = login(client, "admin", PASSWORD)
    token = admin["Authorization"].split()[1]
    with client.websocket_connect(f"/api/v1/stream?token={token}&topics=risk") as ws:
        reader = Reader(ws)
        assert reader.wait_for("stream")["data"]["topics"] == ["risk"]
        asked = client.post("/api/v1/kill-switch", json={"reason": "drill"}, headers=admin)
        done = client.post(
            "/api/v1/kill-switch/confirm", json={"confirm": asked.json()["confirm"]}, headers=admin
        )
        assert done.status_code == 200, done.text
        seen = [reader.wait_for("risk") for _ in range(2)]
        ws.close()
    assert [m["type"] for m in seen] == ["TradingStateSet", "KillSwitch"], seen
    pulled = seen[1]["data"]
    assert (pulled["account"], pulled["by"], pulled["reason"]) == ("paper", "admin", "drill")
    assert pulled["result"], pulled


def test_sign_in_the_kill_switch_alerts_and_probes_go_through_while_slow_reads_hold_every_thread(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    bot = runtime.bots.get(PAPER_BOT)
    assert bot is not None
    hook = runtime.hooks.create(bot)
    portal = client.portal
    assert portal is not None
    release = threading.Event()
    limiter = portal.call(anyio.to_thread.current_default_thread_limiter)
    readers = int(limiter.total_tokens)
    for _ in range(readers):  # slow reads hold every thread of the reads' pool
        portal.start_task_soon(anyio.to_thread.run_sync, release.wait)
    answers: dict[str, int] = {}

    def go() -> None:
        answers["health"] = client.get("/health").status_code
        answers["ready"] = client.get("/ready").status_code
        alert = {"action": "buy", "symbol": "AAPL", "qty": "1"}
        posted = client.post(f"/webhooks/tradingview/{hook.token}", json=alert)
        answers["alert"] = posted.status_code
        admin = login(client, "admin", PASSWORD)  # signed in now: the token is checked anew
        asked = client.post("/api/v1/kill-switch", json={"reason": "drill"}, headers=admin)
        answers["ask"] = asked.status_code
        confirm = {"confirm": asked.json()["confirm"]}
        done = client.post("/api/v1/kill-switch/confirm", json=confirm, headers=admin)
        answers["kill"] = done.status_code

    puller = threading.Thread(target=go, daemon=True)
    try:
        portal.call(until, lambda: limiter.borrowed_tokens == readers, "every read thread held")
        puller.start()
        puller.join(10)
        assert answers.get("ready") in (200, 503)  # ready or starting (no marks yet): answered
        del answers["ready"]
        assert answers == {"health": 200, "alert": 200, "ask": 202, "kill": 200}
    finally:
        release.set()
    assert client.get("/api/v1/trading-state", headers=login(client, "admin", PASSWORD)).json()[
        "accounts"
    ] == {"paper": "HALTED"}


class HeldHasher:
    """The desk's password hasher, whose checks wait while ``held`` is set (a slow hash)."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.waiting = 0

    def hash(self, password: str) -> str:
        return FAST_HASHER.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        if self.held.is_set():
            self.waiting += 1
            self.release.wait(10)
        return FAST_HASHER.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return FAST_HASHER.needs_rehash(password_hash)


def test_sign_ins_that_hang_do_not_hold_up_a_signed_in_admins_kill_switch(tmp_path: Path) -> None:
    hasher = HeldHasher()
    settings = Settings(data_dir=tmp_path)
    init_storage(settings)
    runtime = DeskRuntime(open_desk(settings), hasher=hasher)
    runtime.load()
    runtime.ensure_admin(PASSWORD)
    with TestClient(create_app(runtime)) as client:
        admin = login(client, "admin", PASSWORD)  # its token not checked yet
        hasher.held.set()
        wrong = {"username": "admin", "password": "not-the-password"}
        signing_in = [
            threading.Thread(
                target=lambda: client.post("/api/v1/auth/login", json=wrong), daemon=True
            )
            for _ in range(6)
        ]
        answers: list[int] = []
        try:
            for thread in signing_in:
                thread.start()
            deadline = time.monotonic() + 5
            while hasher.waiting < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # (any more that can get a thread have one now)
            asker = threading.Thread(
                target=lambda: answers.append(
                    client.post(
                        "/api/v1/kill-switch", json={"reason": "drill"}, headers=admin
                    ).status_code
                ),
                daemon=True,
            )
            asker.start()
            asker.join(5)
            assert answers == [202]
        finally:
            hasher.release.set()
            for thread in signing_in:
                thread.join(10)
    runtime.desk.close()


def test_the_inbox_masks_a_hook_secret_kept_under_its_own_field_name(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    bot = runtime.bots.get(PAPER_BOT)
    assert bot is not None
    hook = runtime.hooks.create(bot, secret="pa55-phrase-xyz", secret_field="pw")
    body = '{"action": "buy", "symbol": "AAPL", "qty": "1", "pw": "pa55-phrase-xyz"}'
    posted = client.post(f"/webhooks/tradingview/{hook.token}", content=body)
    assert posted.status_code == 200, posted.text
    admin = login(client, "admin", PASSWORD)
    shown = client.get(f"/api/v1/alerts/{posted.json()['alert_id']}", headers=admin)
    assert shown.status_code == 200
    assert "pa55-phrase-xyz" not in shown.text
    assert hook.token not in shown.text


def test_a_page_of_alerts_masks_each_under_its_own_hooks_field(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    """Two hooks keep their secrets under different fields; one page lists both alerts."""
    runtime, client = desk
    bot = runtime.bots.get(PAPER_BOT)
    assert bot is not None
    posted = []
    for field, secret in (("pw", "first-secret-123"), ("key", "second-secret-456")):
        hook = runtime.hooks.create(bot, secret=secret, secret_field=field)
        body = f'{{"action": "buy", "symbol": "AAPL", "qty": "1", "{field}": "{secret}"}}'
        answer = client.post(f"/webhooks/tradingview/{hook.token}", content=body)
        assert answer.status_code == 200, answer.text
        posted.append(secret)
    page = client.get("/api/v1/alerts", headers=login(client, "admin", PASSWORD))
    assert page.status_code == 200
    assert len(page.json()["alerts"]) == 2
    for secret in posted:
        assert secret not in page.text


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope: dict[str, Any] = {"type": "http", "client": (peer, 1234), "headers": headers}
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", "52.89.214.238", "203.0.113.5"),  # not our proxy: the header is ignored
        ("10.0.0.2", "52.89.214.238", "52.89.214.238"),
        ("10.0.0.2", "52.89.214.238, 203.0.113.5", "203.0.113.5"),  # the last untrusted hop
        ("10.0.0.2", "6.6.6.6, 10.0.0.3", "6.6.6.6"),  # a chain of our proxies is skipped
        ("10.0.0.2", "garbage", None),
    ],
)
def test_x_forwarded_for_is_believed_from_our_proxies_only(
    peer: str, forwarded: str, expected: str | None
) -> None:
    assert client_address(_request(peer, forwarded), {"10.0.0.2", "10.0.0.3"}) == expected


def test_a_stream_client_that_falls_behind_is_cut_loose_and_others_go_on() -> None:
    hub = EventHub()
    fast: list[object] = []
    slow: list[object] = []

    def slow_deliver(message: object) -> bool:
        slow.append(message)
        return len(slow) < 2  # its queue is full after one message

    hub.subscribe(frozenset({"alerts"}), lambda m: fast.append(m) or True)
    hub.subscribe(frozenset({"alerts"}), slow_deliver)
    for n in range(5):
        hub.publish({"topic": "alerts", "type": "Test", "data": {"n": n}})
    assert len(fast) == 5
    assert slow[-1] is None  # told once that it was dropped
    assert len(slow) == 3
    assert hub.subscribers == 1


def test_serve_refuses_to_listen_beyond_localhost_without_tls(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "without TLS" in result.output
    assert not (tmp_path / "algodesk.db").exists()  # refused before touching anything


@pytest.mark.parametrize("seconds", ["0", "inf", "nan", "soon"])  # inf: over the 3600 s cap
def test_serve_refuses_an_alert_backlog_it_cannot_use(tmp_path: Path, seconds: str) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--data-dir", str(tmp_path), "--alert-backlog", seconds]
    )
    assert result.exit_code == 2, result.output
    assert "--alert-backlog" in result.output
    assert not (tmp_path / "algodesk.db").exists()  # refused before touching anything


def test_alerts_explain_shows_the_orders_from_the_command_line(
    desk: tuple[DeskRuntime, TestClient], tmp_path: Path
) -> None:
    message = tmp_path / "alert.json"
    message.write_text('{"action": "long", "ticker": "NVDA", "qty": "3", "sl": "2%"}\n')
    data_dir = str(tmp_path)
    result = CliRunner().invoke(
        cli, ["alerts", "explain", str(message), "--bot", "demo", "--data-dir", data_dir]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["accepted"] is True
    [order] = answer["orders"]
    assert (order["symbol"], order["quantity"], order["stop_loss"]) == ("NVDA.PAPER", "3", "2%")
    message.write_text('{"action": "buy", "ticker": "TSLA"}')
    refused = CliRunner().invoke(
        cli, ["alerts", "explain", str(message), "--bot", "demo", "--data-dir", data_dir]
    )
    assert refused.exit_code == 1
    assert json.loads(refused.output)["reason"] == "unknown_symbol"
    nobody = CliRunner().invoke(
        cli, ["alerts", "explain", str(message), "--bot", "ghost", "--data-dir", data_dir]
    )
    assert json.loads(nobody.output)["reason"] == "unknown_bot"


@pytest.mark.parametrize(
    ("token", "body", "status", "reason"),
    [
        ("no-such-token", b"BUY AAPL 1", 401, "unknown_token"),
        (None, b"x" * (64 * 1024 + 1), 413, "too_large"),
        (None, b"BUY AAPL 1 {{ticker}}", 200, "unresolved_placeholder"),
    ],
)
def test_explain_answers_in_its_own_shape_whatever_went_wrong(
    desk: tuple[DeskRuntime, TestClient], token: str | None, body: bytes, status: int, reason: str
) -> None:
    runtime, client = desk
    token = token or runtime.prepare_demo().token
    answer = client.post(f"/webhooks/tradingview/{token}/explain", content=body)
    assert answer.status_code == status
    explained = answer.json()
    assert set(explained) == {"accepted", "reason", "message", "orders"}, explained
    assert (explained["accepted"], explained["reason"], explained["orders"]) == (
        False,
        reason,
        [],
    )


def _database_down(*args: object, **kwargs: object) -> object:
    raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))


@pytest.mark.parametrize(
    ("store", "method", "path"),
    [
        ("inbox", "add", ""),  # the alert cannot be stored: TradingView resends on a 5xx
        ("hook_store", "by_token", "/explain"),  # explain cannot read the hooks
    ],
)
def test_the_webhooks_answer_503_not_500_when_the_desk_cannot_reach_its_storage(
    desk: tuple[DeskRuntime, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    store: str,
    method: str,
    path: str,
) -> None:
    runtime, client = desk
    token = runtime.prepare_demo().token
    monkeypatch.setattr(getattr(runtime, store), method, _database_down)
    answer = client.post(f"/webhooks/tradingview/{token}{path}", content=b"BUY BTCUSD 0.01")
    assert answer.status_code == 503
    assert answer.json()["reason"] == "unavailable"
    assert ("orders" in answer.json()) is (path == "/explain")  # explain keeps its shape


def test_a_desk_too_far_behind_on_alerts_refuses_new_ones_with_503_until_it_catches_up(
    tmp_path: Path,
) -> None:
    ticks = Ticks()
    runtime = demo_runtime(tmp_path, backlog=AlertBacklog(monotonic=ticks))
    token = runtime.prepare_demo().token
    url = f"/webhooks/tradingview/{token}"

    def alert(n: int) -> dict[str, str]:
        return {"action": "buy", "symbol": "AAPL", "qty": "1", "comment": f"alert {n}"}

    with TestClient(create_app(runtime)) as client:
        # The alert thread takes 2 s over an alert (a slow venue, a starved CPU).
        assert client.post(url, json=alert(0)).status_code == 200
        ticks.now += 2.0
        assert runtime.processor.drain() == 1
        # The demo hook's max lag is 60 s, so the desk's limit of 10 s applies: 5 alerts
        # ahead of a new one are a 10 s wait (taken), 6 are 12 s (refused).
        taken = [client.post(url, json=alert(n)) for n in range(1, 7)]
        assert [a.status_code for a in taken] == [200] * 6, taken[-1].text
        refused = client.post(url, json=alert(7))
        assert refused.status_code == 503
        assert refused.json()["reason"] == "desk_behind"
        assert "12 s behind" in refused.json()["message"]
        assert refused.headers["retry-after"] == "2"
        assert refused.headers["x-request-id"]  # answered through the edge, with its headers
        assert runtime.inbox.count_pending() == 6  # the refused alert was not stored
        assert client.get("/ready").json()["alerts_behind_seconds"] == 12.0
        # Behind by more than the desk's own limit, an alert is refused before it is looked
        # at: a bad token or body is 503 too (it is neither stored nor executed either way).
        unknown = client.post("/webhooks/tradingview/no-such-token", json=alert(8))
        assert (unknown.status_code, unknown.json()["reason"]) == (503, "desk_behind")
        garbage = client.post(url, content=b'{"action": "buy",')
        assert (garbage.status_code, garbage.json()["reason"]) == (503, "desk_behind")
        assert runtime.backlog.ahead == 6
        resend = client.post(url, json=alert(6))
        assert (resend.status_code, resend.json()["duplicate"]) == (200, True)
        assert resend.json()["alert_id"] == taken[-1].json()["alert_id"]
        # The alert thread catches up, and alerts are taken again.
        ticks.now += 1.0
        assert runtime.processor.drain() == 6
        assert client.get("/ready").json()["alerts_behind_seconds"] == 0
        again = client.post(url, json=alert(7))
        assert (again.status_code, again.json()["duplicate"]) == (200, False), again.text
    runtime.desk.close()


def _restarted_with_pending(tmp_path: Path, alerts: int) -> tuple[DeskRuntime, Ticks]:
    """A desk that stored ``alerts`` alerts and stopped before its alert thread took them,
    started again with a backlog on a clock the test moves."""
    first = demo_runtime(tmp_path)
    token = first.prepare_demo().token
    for n in range(alerts):
        body = json.dumps({"action": "buy", "symbol": "AAPL", "qty": "1", "n": n}).encode()
        assert first.intake.receive(token, body, "127.0.0.1").status == 200
    first.desk.close()
    ticks = Ticks()
    again = demo_runtime(tmp_path, admin_password=None, backlog=AlertBacklog(monotonic=ticks))
    return again, ticks


def test_a_restarted_desk_counts_the_alerts_its_last_run_left_pending(tmp_path: Path) -> None:
    again, ticks = _restarted_with_pending(tmp_path, 5)
    assert again.backlog.ahead == 5
    # The webhook knows them as stored (a resend is let through when it refuses new alerts).
    last = json.dumps({"action": "buy", "symbol": "AAPL", "qty": "1", "n": 4}).encode()
    assert again.intake.stored_recently(last)
    assert not again.intake.stored_recently(last + b" ")
    ticks.now += 12  # none settled yet (the alert thread warms up): a new alert waits that long
    assert again.backlog.wait() == 12
    assert again.processor.drain() == 5
    assert again.backlog.ahead == 0
    again.desk.close()


def test_alerts_the_webhook_threads_cannot_take_in_soon_are_answered_503_at_once(
    tmp_path: Path,
) -> None:
    runtime = demo_runtime(tmp_path)
    token = runtime.prepare_demo().token
    url = f"/webhooks/tradingview/{token}"
    ticks = Ticks()
    # One thread; a new alert is refused once the head of the queue has waited over 0.5 s.
    queue = IntakeQueue(threads=1, limit=0.5, monotonic=ticks)
    app = create_app(runtime, alert_queue=queue)

    def alert(n: int) -> dict[str, str]:
        return {"action": "buy", "symbol": "AAPL", "qty": "1", "comment": f"alert {n}"}

    async def main() -> dict[str, httpx.Response]:
        answers: dict[str, httpx.Response] = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:

            async def post(name: str, n: int) -> None:
                answers[name] = await client.post(url, json=alert(n))

            await post("first", 0)
            gate = threading.Event()
            # A refusal that waited for the thread would wait for ever: a timeout, not a hang.
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(queue.run, gate.wait)  # the one thread is busy
                    try:
                        await until(lambda: queue.working == 1)
                        tasks.start_soon(post, "queued", 1)
                        await until(lambda: queue.waiting == 1)
                        ticks.now += 0.5  # waited as long as it may: the next one is taken
                        tasks.start_soon(post, "taken", 2)
                        await until(lambda: queue.waiting == 2)
                        ticks.now += 0.1  # the head has now waited 0.6 s
                        await post("busy", 3)  # refused at once
                        tasks.start_soon(post, "resend", 0)  # stored before: waits its turn
                        await until(lambda: queue.waiting == 3)
                    finally:
                        gate.set()  # the thread cannot be cancelled: free it
        return answers

    answers = anyio.run(main)
    assert [answers[n].status_code for n in ("first", "queued", "taken")] == [200] * 3
    busy = answers["busy"]
    assert (busy.status_code, busy.json()["reason"]) == (503, "desk_busy")
    assert "waited about 0.6 s" in busy.json()["message"]
    assert busy.headers["retry-after"] == "5"
    resend = answers["resend"]
    assert (resend.status_code, resend.json()["duplicate"]) == (200, True)
    assert resend.json()["alert_id"] == answers["first"].json()["alert_id"]
    assert runtime.inbox.count_pending() == 3  # the refused alert was not stored
    runtime.desk.close()


def test_the_alert_threads_start_up_is_not_counted_as_time_per_alert(tmp_path: Path) -> None:
    again, ticks = _restarted_with_pending(tmp_path, 10)
    ticks.now += 5.0  # loading, warming up: the alert thread has not begun
    again.start()
    try:
        deadline = time.monotonic() + 10
        while again.backlog.ahead and time.monotonic() < deadline:
            time.sleep(0.01)
        assert again.backlog.ahead == 0
        assert again.backlog.pace == 0.0  # the clock stood still while it drained them
    finally:
        again.stop()
        again.desk.close()


def test_serve_refuses_to_start_on_an_exit_plan_it_cannot_read(tmp_path: Path) -> None:
    """A damaged ExitPlanned record: serve says which and stops (an entry whose exits it
    cannot read would trade unprotected), instead of a traceback or a made-up plan."""
    runtime = demo_runtime(tmp_path)
    plan = {"coid": "ENTRY1", "bot": None, "stop_loss": "abc", "take_profit": None}
    with runtime.desk.uow_factory() as uow:
        uow.journal.append(JournalRecord(PAPER_ACCOUNT, "ExitPlanned", runtime.clock.now(), plan))
        uow.commit()
    runtime.desk.close()
    said = refused_serve(tmp_path)
    assert "account paper, journal record" in said
    assert "the exit plan of order 'ENTRY1' cannot be read" in said
    assert "stop_loss: expected a decimal text, was 'abc'" in said
