"""Bot administration, limits and circuit breakers over the HTTP API, from the user's side: the
test client over a wired runtime, with marks fed to the paper exchange as the feed would."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId
from algodesk.domain.matching.observations import Quote
from algodesk.domain.users import Role
from algodesk.domain.values import Currency, money
from algodesk.entrypoints.api.app import create_app
from tests.desks import FAST_HASHER, PASSWORD, demo_runtime

AAPL = InstrumentId("AAPL.PAPER")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskRuntime, TestClient]]:
    runtime = demo_runtime(tmp_path)
    runtime.auth.create_user("watcher", "viewer-password-1", Role.VIEWER, by=None)
    runtime.auth.create_user("tess", "trader-password-1", Role.TRADER, by=None)
    mark(runtime, "190.00")
    with TestClient(create_app(runtime)) as client:
        yield runtime, client
    runtime.stop()
    runtime.desk.close()


def mark(runtime: DeskRuntime, last: str, instrument: InstrumentId = AAPL) -> None:
    px = Decimal(last)
    tick = Decimal("0.01")
    quote = Quote(instrument, runtime.clock.now(), px, bid=px - tick, ask=px + tick)
    runtime.market.on_event(quote)


def login(client: TestClient, user: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def admin(client: TestClient) -> dict[str, str]:
    return login(client, "admin", PASSWORD)


NEW_BOT = {"name": "alpha", "allocation": "10000", "symbol_map": {"AAPL": "AAPL.PAPER"}}


def create(client: TestClient, headers: dict[str, str], **changes: Any) -> Any:
    answer = client.post("/api/v1/bots", json={**NEW_BOT, **changes}, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def set_limits(client: TestClient, headers: dict[str, str], **limits: object) -> None:
    """Set the paper account's limits over the API (200 or the test fails)."""
    put = client.put("/api/v1/limits/paper", json={"limits": limits}, headers=headers)
    assert put.status_code == 200, put.text


def order(client: TestClient, headers: dict[str, str], qty: str = "1", **kw: str) -> Any:
    body = {"account": "paper", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": qty, **kw}
    answer = client.post("/api/v1/orders", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- bots ---------------------------------------------------------------------------------------


def test_a_new_bot_comes_with_its_webhook_token_shown_once(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    trader = login(client, "tess", "trader-password-1")
    made = create(client, trader, sizing={"rule": "fixed", "quantity": "2"})
    bot, hook = made["bot"], made["webhook"]
    assert (bot["id"], bot["account"], bot["venue"], bot["status"]) == (
        "alpha",
        "paper",
        "PAPER",
        "CREATED",
    )
    assert (bot["allocation"], bot["currency"]) == ("10000", "USD")
    assert bot["symbol_map"] == {"AAPL": "AAPL.PAPER"}
    assert bot["sizing"] == {"rule": "fixed", "quantity": "2"}
    assert bot["limits"]["max_orders_per_second"] == 10
    token = hook["path"].rsplit("/", 1)[1]
    assert hook["path"] == f"/webhooks/tradingview/{token}"
    assert len(token) >= 40
    # Later reads never show the token.
    for path in ("/api/v1/bots/alpha/webhook", "/api/v1/bots/alpha", "/api/v1/bots"):
        shown = client.get(path, headers=trader)
        assert shown.status_code == 200, shown.text
        assert token not in shown.text
    assert client.get("/api/v1/bots/alpha/webhook", headers=trader).json()["hook"] == hook["hook"]
    # The capital moved to the bot in the ledger, and the token names the bot.
    summary = client.get("/api/v1/accounts/paper/summary?bot=alpha", headers=trader).json()
    assert summary["cash"] == {"USD": "10000"}
    posted = client.post(hook["path"], content='{"action": "buy", "symbol": "AAPL", "qty": "1"}')
    assert posted.status_code == 200, posted.text
    assert runtime.inbox.get(posted.json()["alert_id"]).bot_id.value == "alpha"  # type: ignore[union-attr]


def test_bot_writes_need_a_trader_and_a_viewer_gets_403(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    viewer = login(client, "watcher", "viewer-password-1")
    calls = [
        ("POST", "/api/v1/bots", NEW_BOT),
        ("PATCH", "/api/v1/bots/demo", {"allocation": "1"}),
        ("DELETE", "/api/v1/bots/demo", None),
        ("POST", "/api/v1/bots/demo/webhook/rotate", None),
        ("PUT", "/api/v1/limits/paper", {"limits": {"max_notional": "1"}}),
    ]
    for method, path, body in calls:
        answer = client.request(method, path, json=body, headers=viewer)
        assert (answer.status_code, answer.json()["reason"]) == (403, "forbidden"), path
    trader = login(client, "tess", "trader-password-1")
    put = client.put("/api/v1/limits/paper", json={"limits": {"max_notional": "1"}}, headers=trader)
    assert put.status_code == 403  # limits are an admin's
    assert client.get("/api/v1/limits", headers=viewer).status_code == 200
    assert client.get("/api/v1/breakers", headers=viewer).status_code == 200
    assert client.post("/api/v1/bots", json=NEW_BOT).status_code == 401


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"allocation": "lots"}, "allocation"),
        ({"allocation": "-5"}, "allocation"),
        ({"allocation": "NaN"}, "allocation"),
        ({"symbol_map": {"MSFT": "MSFT.PAPER"}}, "no instrument MSFT.PAPER"),
        ({"symbol_map": {"AAPL": "AAPL.NASDAQ"}}, "venue"),
        ({"symbol_map": {"AAPL": "not an id"}}, "symbol_map.AAPL"),
        ({"venue": "KITE"}, "venue"),
        ({"account": "nobody"}, "no account nobody"),
        ({"name": "bad name!"}, "name"),
        ({"sizing": {"rule": "percent_of_equity", "percent": "250"}}, "sizing.percent"),
        ({"sizing": {"rule": "fixed"}}, "sizing.quantity"),
        ({"limits": {"max_notional": "-1"}}, "max_notional"),
        ({"limits": {"max_notional": "1e999"}}, "max_notional"),
        ({"limits": {"margin_rate": None}}, "margin_rate"),
        ({"limits": {"leverage": "3"}}, "leverage"),
        ({"colour": "red"}, "colour"),
        ({"allocation": "100000000"}, "holds"),  # more than the account's cash: 409 below
    ],
)
def test_a_bad_new_bot_is_refused_with_a_reason_and_nothing_changes(
    desk: tuple[DeskRuntime, TestClient], changes: dict[str, Any], needle: str
) -> None:
    runtime, client = desk
    answer = client.post("/api/v1/bots", json={**NEW_BOT, **changes}, headers=admin(client))
    expected = 409 if needle == "holds" else 422
    assert answer.status_code == expected, answer.text
    assert answer.json()["ok"] is False
    assert needle in answer.text
    assert [b.id.value for b in runtime.bots.list()] == ["demo"]


def test_a_bot_name_is_never_given_twice(desk: tuple[DeskRuntime, TestClient]) -> None:
    _, client = desk
    headers = admin(client)
    again = client.post("/api/v1/bots", json={**NEW_BOT, "name": "demo"}, headers=headers)
    assert (again.status_code, again.json()["reason"]) == (409, "conflict")


def test_editing_a_bot_is_persisted_with_its_history(
    desk: tuple[DeskRuntime, TestClient], tmp_path: Path
) -> None:
    runtime, client = desk
    headers = admin(client)
    create(client, headers)
    change = {
        "allocation": "15000",
        "symbol_map": {"AAPL": "AAPL.PAPER", "NVDA": "NVDA.PAPER"},
        "limits": {"max_position_qty": "5", "max_trades_per_day": 3},
        "sizing": {"rule": "percent_of_equity", "percent": "5"},
        "reason": "more room",
    }
    answer = client.patch("/api/v1/bots/alpha", json=change, headers=headers)
    assert answer.status_code == 200, answer.text
    bot = answer.json()
    assert bot["allocation"] == "15000"
    assert bot["symbol_map"] == {"AAPL": "AAPL.PAPER", "NVDA": "NVDA.PAPER"}
    assert (bot["limits"]["max_position_qty"], bot["limits"]["max_trades_per_day"]) == ("5", 3)
    assert bot["limits"]["max_orders_per_second"] == 10  # left out: kept
    assert [(c["by"], c["reason"], c["fields"]) for c in bot["changes"]] == [
        ("admin", "more room", ["allocation", "limits", "symbol_map", "sizing"])
    ]
    summary = client.get("/api/v1/accounts/paper/summary?bot=alpha", headers=headers).json()
    assert summary["cash"] == {"USD": "15000"}
    # Bad edits change nothing.
    for bad, status in (
        ({"allocation": "x"}, 422),
        ({"symbol_map": {"X": "X.PAPER"}}, 422),
        ({"limits": {"max_notional": "abc"}}, 422),
        ({"allocation": "99999999"}, 409),
    ):
        refused = client.patch("/api/v1/bots/alpha", json=bad, headers=headers)
        assert refused.status_code == status, (bad, refused.text)
    assert client.patch("/api/v1/bots/ghost", json={}, headers=headers).status_code == 404
    # After a restart the bot is as it was edited.
    restarted = DeskRuntime(runtime.desk, hasher=FAST_HASHER)
    restarted.load()
    again = restarted.bots.get(BotId("alpha"))
    assert again is not None
    assert again.allocation.amount == Decimal(15000)
    assert again.limits.max_position_qty == Decimal(5)
    assert set(again.symbol_map) == {"AAPL", "NVDA"}
    assert [c.fields for c in restarted.bots.changes(again.id)] == [
        ("allocation", "limits", "symbol_map", "sizing")
    ]


def test_a_bot_is_deleted_only_once_stopped_and_its_token_dies_with_it(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    path = create(client, headers)["webhook"]["path"]
    assert client.post("/api/v1/bots/alpha/start", headers=headers).status_code == 200
    running = client.delete("/api/v1/bots/alpha", headers=headers)
    assert (running.status_code, running.json()["reason"]) == (409, "conflict")
    assert "stop it first" in running.text
    assert client.post("/api/v1/bots/alpha/stop", headers=headers).status_code == 200
    assert (
        client.patch("/api/v1/bots/alpha", json={"allocation": "1"}, headers=headers).status_code
        == 409
    )
    deleted = client.delete("/api/v1/bots/alpha", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"ok": True, "deleted": "alpha"}
    assert client.get("/api/v1/bots/alpha", headers=headers).status_code == 404
    assert client.delete("/api/v1/bots/alpha", headers=headers).status_code == 404
    assert client.post(path, content="buy,AAPL,1").status_code == 401
    # Its cash is back with the account, and its name is not given again.
    summary = client.get("/api/v1/accounts/paper/summary?bot=alpha", headers=headers).json()
    assert summary["cash"] == {"USD": "0"}
    assert client.post("/api/v1/bots", json=NEW_BOT, headers=headers).status_code == 409


def test_rotating_the_webhook_token_retires_the_old_one_at_once(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    old = create(client, headers)["webhook"]["path"]
    body = '{"action": "buy", "symbol": "AAPL", "qty": "1"}'
    assert client.post(old, content=body).status_code == 200
    rotated = client.post("/api/v1/bots/alpha/webhook/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook"]["path"]
    assert new != old
    refused = client.post(old, content=body + " ")
    assert (refused.status_code, refused.json()["reason"]) == (401, "unknown_token")
    assert client.post(new, content=body + "  ").status_code == 200
    shown = client.get("/api/v1/bots/alpha/webhook", headers=headers)
    assert new.rsplit("/", 1)[1] not in shown.text
    assert client.post("/api/v1/bots/ghost/webhook/rotate", headers=headers).status_code == 404


# -- limits -------------------------------------------------------------------------------------


def test_limits_show_configuration_and_use(desk: tuple[DeskRuntime, TestClient]) -> None:
    _, client = desk
    headers = admin(client)
    filled = order(client, headers, "3")
    assert filled["ok"], filled
    answer = client.get("/api/v1/limits", headers=headers)
    assert answer.status_code == 200, answer.text
    (paper,) = answer.json()["accounts"]
    assert (paper["account"], paper["configured"], paper["trading_state"]) == (
        "paper",
        True,
        "ACTIVE",
    )
    assert paper["limits"]["max_notional"] is None
    assert paper["limits"]["max_orders_per_second"] == 10
    assert paper["limits"]["mark_max_age_seconds"] == "300"  # plain, never "3E+2"
    usage = paper["usage"]
    assert usage["trades_today"] == {"used": 1, "limit": None}
    assert [(p["instrument"], p["quantity"]) for p in usage["positions"]] == [("AAPL.PAPER", "3")]
    assert Decimal(usage["gross_exposure"]["used"]) == Decimal("570.00")
    assert usage["open_positions"] == {"used": 1, "limit": None, "pending": 0}
    assert usage["orders_last_second"]["limit"] == 10
    assert [b["bot"] for b in paper["bots"]] == ["demo"]
    assert paper["bots"][0]["usage"]["trades_today"]["used"] == 0
    one = client.get("/api/v1/limits?account=paper", headers=headers)
    assert len(one.json()["accounts"]) == 1
    assert client.get("/api/v1/limits?account=ghost", headers=headers).status_code == 404


def test_changing_a_limit_changes_the_next_orders_fate_and_survives_a_restart(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    headers = admin(client)
    assert order(client, headers)["ok"]
    put = client.put(
        "/api/v1/limits/paper",
        json={"limits": {"max_notional": "100", "max_trades_per_day": 5}, "reason": "tighter"},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    shown = put.json()["accounts"][0]
    assert (shown["limits"]["max_notional"], shown["usage"]["trades_today"]) == (
        "100",
        {"used": 1, "limit": 5},
    )
    assert shown["limits"]["max_orders_per_second"] == 10  # left out: kept
    denied = order(client, headers)
    assert (denied["ok"], denied["code"]) == (False, "MAX_NOTIONAL_EXCEEDED")
    # Restarted, the engine still has the changed limit.
    restarted = DeskRuntime(runtime.desk, hasher=FAST_HASHER)
    restarted.load()
    assert restarted.limits.limits(AccountId("paper")).max_notional == Decimal(100)  # type: ignore[union-attr]
    cleared = client.put(
        "/api/v1/limits/paper", json={"limits": {"max_notional": None}}, headers=headers
    )
    assert cleared.status_code == 200
    assert cleared.json()["accounts"][0]["limits"]["max_notional"] is None
    assert order(client, headers)["ok"]


def test_an_open_order_count_stops_resting_orders_and_shows_its_use(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    set_limits(client, headers, max_open_orders=2)
    resting = {"order_type": "LIMIT", "price": "180.00"}  # below the mark (190): it rests
    assert order(client, headers, **resting)["ok"]
    assert order(client, headers, **resting)["ok"]
    denied = order(client, headers, **resting)
    assert (denied["ok"], denied["code"]) == (False, "MAX_OPEN_ORDERS")
    assert "open_orders=2, limit=2" in denied["message"]
    usage = client.get("/api/v1/limits?account=paper", headers=headers).json()["accounts"][0]
    assert usage["usage"]["open_orders"] == {"used": 2, "limit": 2}
    assert usage["usage"]["net_exposure"] == {"used": "0", "limit": None}
    first = client.get("/api/v1/orders?limit=10", headers=headers).json()["orders"][-1]
    cancel = client.delete(f"/api/v1/orders/{first['client_order_id']}", headers=headers)
    assert cancel.status_code == 200, cancel.text
    assert order(client, headers, **resting)["ok"]  # one is free again


def test_a_net_exposure_limit_denies_a_push_past_it_and_shows_the_net(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    set_limits(client, headers, max_net_exposure="500")
    assert order(client, headers, qty="2")["ok"]  # long 2 at about 190: 380
    denied = order(client, headers, qty="1")  # 380 + 190 > 500
    assert (denied["ok"], denied["code"]) == (False, "EXPOSURE_LIMIT_EXCEEDED")
    assert "net_exposure_after=" in denied["message"]
    usage = client.get("/api/v1/limits?account=paper", headers=headers).json()["accounts"][0]
    net = usage["usage"]["net_exposure"]
    assert (Decimal(net["used"]), net["limit"]) == (Decimal("380.00"), "500")
    sale = order(client, headers, qty="1", side="SELL")  # reduces: passes
    assert sale["ok"], sale


def test_an_underlying_exposure_limit_counts_what_is_held_and_working_in_it(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    set_limits(client, headers, max_underlying_exposure="600")
    assert order(client, headers, qty="2")["ok"]  # AAPL held: about 380
    assert order(client, headers, order_type="LIMIT", price="180.00")["ok"]  # working: 180
    denied = order(client, headers, qty="1")  # 380 + 180 + 190 > 600
    assert (denied["ok"], denied["code"]) == (False, "EXPOSURE_LIMIT_EXCEEDED")
    assert "underlying=AAPL" in denied["message"]


def test_any_account_can_be_given_limits_and_then_trades(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    headers = admin(client)
    runtime.desk.ledger.deposit(AccountId("second"), money("5000", Currency("USD")), "cash", "s-1")
    before = client.post(
        "/api/v1/orders",
        json={"account": "second", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": "1"},
        headers=headers,
    ).json()
    assert before["code"] == "ACCOUNT_NOT_FOUND"  # no limits: fail closed
    listed = {
        a["account"]: a for a in client.get("/api/v1/limits", headers=headers).json()["accounts"]
    }
    assert (listed["second"]["configured"], listed["second"]["limits"]) == (False, None)
    put = client.put(
        "/api/v1/limits/second", json={"limits": {"max_position_qty": "2"}}, headers=headers
    )
    assert put.status_code == 200, put.text
    body = {"account": "second", "instrument": "AAPL.PAPER", "side": "BUY", "quantity": "1"}
    assert client.post("/api/v1/orders", json=body, headers=headers).json()["ok"]
    body["quantity"] = "2"
    third = client.post("/api/v1/orders", json=body, headers=headers).json()
    assert third["code"] == "POSITION_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    "body",
    [
        {"limits": {"max_notional": "abc"}},
        {"limits": {"max_notional": "-1"}},
        {"limits": {"max_notional": 5}},
        {"limits": {"price_band_pct": "101"}},
        {"limits": {"max_open_positions": -1}},
        {"limits": {"mark_max_age_seconds": "0"}},
        {"limits": {"unknown": "1"}},
        {"breakers": {"max_drawdown_pct": "0"}},
        {"breakers": {"drawdown_action": "ACTIVE"}},
        {"breakers": {"reset_after_seconds": None}},
        {},
        {"limits": "tight"},
    ],
)
def test_bad_limits_are_refused_and_change_nothing(
    desk: tuple[DeskRuntime, TestClient], body: dict[str, Any]
) -> None:
    runtime, client = desk
    answer = client.put("/api/v1/limits/paper", json=body, headers=admin(client))
    assert answer.status_code == 422, answer.text
    assert answer.json()["ok"] is False
    assert runtime.limits.limits(AccountId("paper")).max_notional is None  # type: ignore[union-attr]
    assert runtime.limits.breakers(AccountId("paper")) is None
    assert client.put("/api/v1/limits/ghost", json=body, headers=admin(client)).status_code in (
        404,
        422,
    )


# -- breakers -----------------------------------------------------------------------------------


def test_a_tripped_breaker_shows_its_reason_and_figures_until_reset(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    headers = admin(client)
    listed = client.get("/api/v1/breakers", headers=headers).json()
    assert listed == {"scopes": [], "history": [], "total_trips": 0}
    put = client.put(
        "/api/v1/limits/paper",
        json={"breakers": {"max_drawdown_pct": "1", "reset_after_seconds": "3600"}},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["accounts"][0]["breakers"]["max_drawdown_pct"] == "1"
    assert order(client, headers, "100")["ok"]  # 19,000 of AAPL
    mark(runtime, "180.00")  # -1,000: 1 % of 100,000
    denied = order(client, headers)
    assert (denied["ok"], denied["code"]) == (False, "TRADING_HALTED")
    answer = client.get("/api/v1/breakers", headers=headers).json()
    (scope,) = answer["scopes"]
    assert (scope["account"], scope["bot"], scope["state"], scope["tripped"]) == (
        "paper",
        None,
        "HALTED",
        True,
    )
    drawdown = next(b for b in scope["breakers"] if b["kind"] == "DRAWDOWN_LIMIT")
    assert drawdown["tripped"]
    assert drawdown["limit"] == "1"
    assert drawdown["reason"].startswith("DRAWDOWN_LIMIT: drawdown_pct=")
    assert drawdown["figures"]["limit_pct"] == "1"
    assert drawdown["tripped_at"] < drawdown["resets_at"]
    (trip,) = answer["history"]
    assert (trip["kind"], trip["reset_by"]) == ("DRAWDOWN_LIMIT", None)
    usage = client.get("/api/v1/limits", headers=headers).json()["accounts"][0]["usage"]
    assert usage["drawdown_pct"]["limit"] == "1"
    assert Decimal(usage["drawdown_pct"]["used"]) >= 1
    reset = client.post("/api/v1/breakers/reset", json={"account": "paper"}, headers=headers)
    assert reset.status_code == 200, reset.text
    after = client.get("/api/v1/breakers?limit=1", headers=headers).json()
    assert after["scopes"][0]["tripped"] is False
    assert after["history"][0]["reset_by"] == "admin"
    assert after["total_trips"] == 1
    assert client.get("/api/v1/breakers?limit=0", headers=headers).status_code == 422


# -- the stream ---------------------------------------------------------------------------------


class Reader:
    """Reads a test WebSocket in a thread, so that a missing message fails instead of hanging."""

    def __init__(self, ws: Any) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self._ws = ws
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                self.messages.put(self._ws.receive_json())
        except Exception:  # the socket closed
            return

    def wait_for(self, topic: str, timeout: float = 5) -> Any:
        while True:
            message = self.messages.get(timeout=timeout)
            if message["topic"] == topic:
                return message


def test_the_stream_carries_positions_and_pnl_after_a_fill(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    runtime, client = desk
    headers = admin(client)
    runtime.start()
    token = headers["Authorization"].split()[1]
    with client.websocket_connect(f"/api/v1/stream?token={token}&topics=positions,pnl") as ws:
        reader = Reader(ws)
        assert reader.wait_for("stream")["data"]["topics"] == ["pnl", "positions"]
        assert order(client, headers, "2")["ok"]
        position = reader.wait_for("positions")
        assert position["type"] == "PositionChanged"
        data = position["data"]
        assert (data["account"], data["bot"], data["instrument"], data["quantity"]) == (
            "paper",
            None,
            "AAPL.PAPER",
            "2",
        )
        assert Decimal(data["average_price"]) == Decimal("190.01")
        pnl = reader.wait_for("pnl")
        assert pnl["type"] == "PnlChanged"
        assert pnl["data"]["account"] == "paper"
        assert set(pnl["data"]) >= {"realized", "unrealized", "equity", "cash", "ts"}
        assert Decimal(pnl["data"]["unrealized"]["USD"]) == Decimal("-0.02")
        ws.close()


def test_pnl_on_marks_is_throttled_per_account(desk: tuple[DeskRuntime, TestClient]) -> None:
    runtime, client = desk
    headers = admin(client)
    assert order(client, headers, "1")["ok"]
    got: list[dict[str, Any]] = []
    runtime.hub.subscribe(frozenset({"pnl"}), lambda m: got.append(m) or True)  # type: ignore[func-returns-value]
    stream = runtime.portfolio_stream
    stream.flush()  # the first: which accounts hold what
    for n in range(20):
        mark(runtime, f"{190 + n / 100:.2f}")
        stream.flush()
    assert len(got) == 1  # within a second: no more
    stream.flush(force=True)
    assert len(got) == 2
    assert Decimal(got[-1]["data"]["unrealized"]["USD"]) == Decimal("0.18")


def test_a_bots_breaker_is_set_with_the_bot_and_shown_with_its_status(
    desk: tuple[DeskRuntime, TestClient],
) -> None:
    _, client = desk
    headers = admin(client)
    empty = client.patch("/api/v1/bots/demo", json={"reason": "nothing"}, headers=headers)
    assert empty.status_code == 422
    bad = client.patch(
        "/api/v1/bots/demo", json={"breakers": {"max_consecutive_losses": "x"}}, headers=headers
    )
    assert bad.status_code == 422
    answer = client.patch(
        "/api/v1/bots/demo",
        json={"breakers": {"max_consecutive_losses": 3, "consecutive_losses_action": "HALTED"}},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["breakers"]["max_consecutive_losses"] == 3
    assert (
        client.get("/api/v1/bots/demo", headers=headers).json()["breakers"][
            "max_consecutive_losses"
        ]
        == 3
    )
    (scope,) = client.get("/api/v1/breakers", headers=headers).json()["scopes"]
    assert (scope["account"], scope["bot"], scope["tripped"]) == ("paper", "demo", False)
    losses = next(b for b in scope["breakers"] if b["kind"] == "CONSECUTIVE_LOSSES")
    assert (losses["enabled"], losses["limit"], losses["action"]) == (True, 3, "HALTED")
    limits = client.get("/api/v1/limits", headers=headers).json()["accounts"][0]
    assert limits["bots"][0]["breakers"]["consecutive_losses_action"] == "HALTED"
