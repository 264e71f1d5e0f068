"""``GET /api/v1/exits``, from the trader's side: what guards each open position now. An alert's
stop-loss and take-profit are listed once its entry fills; a stop the halted account keeps out
is shown denied, with the gate's code and message; a stop that went is gone from the list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.domain.users import Role
from algodesk.entrypoints.api.app import create_app
from algodesk.services.demo import PAPER_BOT
from tests.desks import PASSWORD, demo_runtime
from tests.integration.test_api_admin import Reader

AAPL = InstrumentId("AAPL.PAPER")


class Desk:
    def __init__(self, runtime: DeskRuntime, client: TestClient) -> None:
        self.runtime, self.client = runtime, client
        self.admin = self.login("admin", PASSWORD)
        bot = runtime.bots.get(PAPER_BOT)
        assert bot is not None
        self.hook = runtime.hooks.create(bot)

    def login(self, user: str, password: str) -> dict[str, str]:
        answer = self.client.post(
            "/api/v1/auth/login", json={"username": user, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def quote(self, last: str) -> None:  # as the feed delivers it: fills, then exits
        runtime = self.runtime
        runtime.market.on_event(Quote(AAPL, runtime.clock.now(), Decimal(last)))

    def alert(self, body: dict[str, object]) -> None:
        posted = self.client.post(f"/webhooks/tradingview/{self.hook.token}", json=body)
        assert posted.status_code == 200, posted.text
        assert self.runtime.processor.drain() == 1

    def exits(self, **query: str) -> list[dict[str, Any]]:
        answer = self.client.get("/api/v1/exits", params=query, headers=self.admin)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["exits"]
        return found

    def state(self, state: str) -> None:
        body = {"account": "paper", "state": state, "reason": "test"}
        answer = self.client.post("/api/v1/trading-state", json=body, headers=self.admin)
        assert answer.status_code == 200, answer.text

    def position(self) -> Decimal:
        answer = self.client.get("/api/v1/positions", headers=self.admin).json()
        held = [p["quantity"] for p in answer["positions"] if p["instrument"] == AAPL.value]
        return Decimal(held[0]) if held else Decimal(0)


@contextmanager
def served_demo(tmp_path: Path) -> Iterator[Desk]:
    """The demo desk served in process, with a viewer ``watcher``, AAPL marked at 100."""
    runtime = demo_runtime(tmp_path)
    runtime.auth.create_user("watcher", "viewer-password-1", Role.VIEWER, by=None)
    with TestClient(create_app(runtime)) as client:
        desk = Desk(runtime, client)
        desk.quote("100")
        yield desk
    runtime.desk.close()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    with served_demo(tmp_path) as served:
        yield served


def test_an_alerts_stop_is_listed_armed_then_denied_while_halted_then_gone_once_it_sold(
    desk: Desk,
) -> None:
    assert desk.exits() == []
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "10", "sl": "95", "tp": "110"})
    assert desk.position() == Decimal(10)
    (armed,) = desk.exits()
    assert armed == {
        "entry": armed["entry"],
        "account": "paper",
        "bot": PAPER_BOT.value,
        "instrument": AAPL.value,
        "direction": "long",
        "quantity": "10",
        "stop_loss": "95",
        "take_profit": "110",
        "trailing": None,
        "trailing_stop": None,
        "state": "armed",
        "denied": None,
    }
    orders = desk.client.get("/api/v1/orders", headers=desk.admin).json()["orders"]
    assert armed["entry"] in {o["client_order_id"] for o in orders}  # the entry's own order

    desk.state("HALTED")
    desk.quote("94")  # the stop fires; the halted account keeps it out
    (denied,) = desk.exits()
    assert denied["state"] == "denied", denied
    assert denied["quantity"] == "10"
    why = denied["denied"]
    assert (why["exit"], why["code"]) == ("STOP_LOSS", "TRADING_HALTED"), why
    assert "HALTED" in why["message"], why
    assert why["since"] == why["tried"]
    assert desk.position() == Decimal(10)

    desk.state("ACTIVE")
    desk.quote("93.9")  # now it goes
    assert desk.position() == Decimal(0)
    assert desk.exits() == []


def test_a_trailing_stop_shows_the_level_it_has_ratcheted_to(desk: Desk) -> None:
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "2", "trailing_stop_percent": "5"})
    (watch,) = desk.exits()
    assert watch["trailing"] == {"distance": "5", "unit": "PERCENT"}
    assert Decimal(watch["trailing_stop"]) == Decimal(95)  # 5 % under the fill at 100
    desk.quote("104")
    (watch,) = desk.exits()
    assert Decimal(watch["trailing_stop"]) == Decimal("98.8")  # 5 % under the best mark since


def test_exits_are_read_by_a_viewer_filtered_by_account_and_refused_without_a_token(
    desk: Desk,
) -> None:
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "1", "sl": "90"})
    viewer = desk.login("watcher", "viewer-password-1")
    seen = desk.client.get("/api/v1/exits", headers=viewer)
    assert seen.status_code == 200
    assert [e["stop_loss"] for e in seen.json()["exits"]] == ["90"]
    assert [e["account"] for e in desk.exits(account="paper")] == ["paper"]
    assert desk.exits(account="elsewhere") == []
    bad = desk.client.get("/api/v1/exits", params={"account": "no such!"}, headers=desk.admin)
    assert bad.status_code == 422
    assert desk.client.get("/api/v1/exits").status_code == 401


def test_the_stream_tells_when_a_stop_is_denied_and_when_it_goes(desk: Desk) -> None:
    desk.alert({"action": "buy", "symbol": "AAPL", "qty": "3", "sl": "95"})
    (armed,) = desk.exits()
    token = desk.admin["Authorization"].split()[1]
    with desk.client.websocket_connect(f"/api/v1/stream?token={token}&topics=risk") as ws:
        reader = Reader(ws)
        assert reader.wait_for("stream")["data"]["topics"] == ["risk"]
        desk.state("HALTED")
        assert reader.wait_for("risk")["type"] == "TradingStateSet"
        desk.quote("94")
        assert reader.wait_for("risk")["type"] == "OrderDenied"  # the stop's order, then ...
        denied = reader.wait_for("risk")
        assert denied["type"] == "ExitDenied", denied
        assert (denied["data"]["coid"], denied["data"]["kind"]) == (armed["entry"], "STOP_LOSS")
        assert denied["data"]["outcome"]["code"] == "TRADING_HALTED", denied
        desk.state("ACTIVE")
        assert reader.wait_for("risk")["type"] == "TradingStateSet"
        desk.quote("93.9")
        went = reader.wait_for("risk")
        assert went["type"] == "ExitFired", went
        assert (went["data"]["coid"], went["data"]["size"]) == (armed["entry"], "3")
        assert went["data"]["outcome"]["ok"] is True, went
        ws.close()
    assert desk.position() == Decimal(0)


def test_a_shorts_stop_and_trailing_level_are_shown_above_the_market(desk: Desk) -> None:
    desk.alert(
        {"action": "sell", "symbol": "AAPL", "qty": "2", "sl": "105", "trailing_points": "3"}
    )
    assert desk.position() == Decimal(-2)
    (watch,) = desk.exits()
    assert (watch["direction"], watch["stop_loss"]) == ("short", "105")
    assert watch["trailing"] == {"distance": "3", "unit": "POINTS"}
    assert Decimal(watch["trailing_stop"]) == Decimal(103)  # 3 points above the fill at 100
    desk.quote("97")
    (watch,) = desk.exits()
    assert Decimal(watch["trailing_stop"]) == Decimal(100)  # 3 points above the lowest mark
    desk.quote("100.5")  # through it: the short is covered
    assert desk.position() == Decimal(0)
    assert desk.exits() == []
