"""``algodesk bots`` and ``algodesk risk`` against a running desk: the real app served by
uvicorn on a loopback port in this process, the command line talking to it over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from algodesk.adapters.auth.passwords import Argon2PasswordHasher
from algodesk.bootstrap import init_storage, open_desk
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.config import Settings
from algodesk.domain.commands import SetTradingState
from algodesk.domain.identifiers import AccountId, InstrumentId, TradeId
from algodesk.domain.matching import Quote
from algodesk.domain.risk.base import TradingState
from algodesk.entrypoints.api.app import create_app
from algodesk.entrypoints.cli.app import app as cli
from algodesk.ports.webhooks import Hook
from algodesk.services.demo import PAPER_BOT

AAPL = InstrumentId("AAPL.PAPER")
PASSWORD = "admin-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_runtime(data_dir: Path) -> DeskRuntime:
    settings = Settings(data_dir=data_dir)
    init_storage(settings)
    runtime = DeskRuntime(
        open_desk(settings), hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8192)
    )
    runtime.load()
    runtime.prepare_demo()
    runtime.ensure_admin(PASSWORD)
    return runtime


@contextmanager
def serving(runtime: DeskRuntime) -> Iterator[str]:
    """The real app on uvicorn on a loopback port, in a thread of this process."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="error", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    runtime = make_runtime(tmp_path)
    with serving(runtime) as url:
        yield url
    runtime.desk.close()


def run(base: str, *args: str, user: str | None = "admin") -> Any:
    env = {"ALGODESK_URL": base, "ALGODESK_PASSWORD": PASSWORD}
    if user:
        env["ALGODESK_USER"] = user
    return CliRunner().invoke(cli, list(args), env=env)


def test_bots_are_created_run_and_rotated_from_the_command_line(base: str) -> None:
    made = run(base, "bots", "create", "beta", "--allocation", "2500", "--symbol",
               "NVDA=NVDA.PAPER", "--sizing", "fixed:2")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "created beta" in made.output
    url = made.output.strip().splitlines()[-1].strip()
    assert url.startswith(f"{base}/webhooks/tradingview/")
    listed = run(base, "bots", "list", "--json")
    assert listed.exit_code == 0, listed.output
    bots = {b["id"]: b for b in json.loads(listed.output)["bots"]}
    assert (bots["beta"]["status"], bots["beta"]["allocation"]) == ("CREATED", "2500")
    assert url.rsplit("/", 1)[1] not in listed.output  # the token is not shown again
    text = run(base, "bots", "list")
    assert "beta" in text.output
    assert "NVDA=NVDA.PAPER" in text.output
    for action, status in (("start", "RUNNING"), ("pause", "PAUSED"), ("resume", "RUNNING")):
        moved = run(base, "bots", action, "beta", "--json", "--reason", "test")
        assert moved.exit_code == 0, moved.output
        assert json.loads(moved.output)["status"] == status
    rotated = run(base, "bots", "rotate", "beta", "--json")
    assert rotated.exit_code == 0, rotated.output
    new_url = json.loads(rotated.output)["webhook"]["url"]
    body = '{"action": "buy", "symbol": "NVDA", "qty": "1"}'
    assert httpx.post(url, content=body).status_code == 401
    assert httpx.post(new_url, content=body).status_code == 200
    stopped = run(base, "bots", "stop", "beta", "--json")
    assert json.loads(stopped.output)["status"] == "STOPPED"
    again = run(base, "bots", "start", "beta")
    assert again.exit_code == 1
    assert "conflict" in again.output


def test_risk_status_shows_limits_use_and_breakers(base: str) -> None:
    status = run(base, "risk", "status")
    assert status.exit_code == 0, status.output
    assert "account paper [ACTIVE]" in status.output
    assert "orders_last_second" in status.output
    assert "bot demo (RUNNING)" in status.output
    assert "breakers:" in status.output
    as_json = json.loads(run(base, "risk", "status", "--json").output)
    assert as_json["limits"]["accounts"][0]["account"] == "paper"
    assert as_json["breakers"]["scopes"] == []


def test_the_command_line_says_what_went_wrong(base: str) -> None:
    bad = run(base, "bots", "create", "gamma", "--allocation", "lots")
    assert bad.exit_code == 1
    assert "allocation" in bad.output
    assert "bad_value" in bad.output
    nobody = run(base, "bots", "list", user=None)
    assert nobody.exit_code == 2
    assert "--token" in nobody.output
    away = run("http://127.0.0.1:9", "bots", "list")
    assert away.exit_code == 1
    assert "cannot reach the desk" in away.output
    wrong = run(base, "bots", "list", "--url", "ftp://example.org")
    assert wrong.exit_code == 2
    portless = run(base, "bots", "list", "--url", "http://127.0.0.1:abc")
    assert portless.exit_code == 2  # a clear message, not a traceback
    assert "--url: expected http://HOST:PORT" in portless.output
    symbol = run(base, "bots", "create", "gamma", "--allocation", "1", "--symbol", "NVDA")
    assert symbol.exit_code == 2
    assert "TICKER=INSTRUMENT" in symbol.output


def marked_with_a_hook(tmp_path: Path) -> tuple[DeskRuntime, Hook]:
    """The demo desk with AAPL marked at 100 and a webhook for the demo bot."""
    runtime = make_runtime(tmp_path)
    runtime.market.on_event(Quote(AAPL, runtime.clock.now(), Decimal(100)))
    bot = runtime.bots.get(PAPER_BOT)
    assert bot is not None
    return runtime, runtime.hooks.create(bot)


def test_risk_exits_lists_the_stops_guarding_positions_and_says_which_are_denied(
    tmp_path: Path,
) -> None:
    runtime, hook = marked_with_a_hook(tmp_path)
    with serving(runtime) as base:
        none = run(base, "risk", "exits")
        assert (none.exit_code, none.output.strip()) == (0, "no exits armed")
        alert = {"action": "buy", "symbol": "AAPL", "qty": "5", "sl": "95", "tp": "110"}
        posted = httpx.post(f"{base}/webhooks/tradingview/{hook.token}", json=alert)
        assert posted.status_code == 200, posted.text
        assert runtime.processor.drain() == 1
        text = run(base, "risk", "exits")
        assert text.exit_code == 0, text.output
        (line,) = text.output.strip().splitlines()
        assert "paper/demo" in line
        assert line.split()[2:] == [
            "AAPL.PAPER",
            "long",
            "5",
            "stop",
            "95",
            "target",
            "110",
            "[armed]",
        ]
        assert runtime.engine.handle(
            SetTradingState(account_id=AccountId("paper"), state=TradingState.HALTED, reason="t")
        ).ok
        runtime.market.on_event(Quote(AAPL, runtime.clock.now(), Decimal(94)))  # fires
        denied = run(base, "risk", "exits", "--account", "paper")
        assert "[DENIED TRADING_HALTED since " in denied.output, denied.output
        as_json = json.loads(run(base, "risk", "exits", "--json").output)
        (shown,) = as_json["exits"]
        assert (shown["state"], shown["denied"]["exit"]) == ("denied", "STOP_LOSS")
    runtime.desk.close()


def test_ledger_reconcile_asks_the_desk_and_exits_1_on_a_difference(tmp_path: Path) -> None:
    runtime, hook = marked_with_a_hook(tmp_path)
    with serving(runtime) as base:
        alert = {"action": "buy", "symbol": "AAPL", "qty": "5"}
        posted = httpx.post(f"{base}/webhooks/tradingview/{hook.token}", json=alert)
        assert posted.status_code == 200, posted.text
        assert runtime.processor.drain() == 1
        agreed = run(base, "ledger", "reconcile")
        assert (agreed.exit_code, agreed.output.strip()) == (
            0,
            "OK: 1 fills, 1 orders; PAPER: 0 working",
        ), agreed.output
        with runtime.desk.uow_factory() as uow:  # a fill stored without its ledger entry
            (fill,) = uow.fills.list(AccountId("paper"))
            assert uow.fills.add(replace(fill, trade_id=TradeId("STRAY1")))
            uow.commit()
        differs = run(base, "ledger", "reconcile")
        assert differs.exit_code == 1, differs.output
        assert "DIFFERENCES: 2 fills" in differs.output
        assert "FILL_NOT_BOOKED paper PAPER:STRAY1: fill PAPER:STRAY1 of order" in differs.output
        as_json = json.loads(run(base, "ledger", "reconcile", "--json").output)
        assert as_json["ok"] is False
    runtime.desk.close()
