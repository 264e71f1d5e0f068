"""The desk from the outside: a real server, TradingView-format alerts over HTTP, the paper fill,
the ledger entry, the stream and the alert's fate through the API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from algodesk.testing.desk_server import ADMIN_PASSWORD, Server

pytestmark = pytest.mark.xdist_group("e2e")


def timenow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("desk"), "--order-rate", "0", "--alert-backlog", "7.5"
    ).start()
    yield running
    running.stop()


class Stream:
    """Collects stream messages in a thread."""

    def __init__(self, url: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with connect(self._url, open_timeout=10) as ws:
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                self.messages.append(json.loads(raw))

    def wait_for(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if predicate(message):
                    return message
            time.sleep(0.02)
        raise AssertionError(f"no such message in {self.messages}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_alerts_become_paper_fills_in_the_ledger_on_the_stream_and_in_the_inbox(
    server: Server,
) -> None:
    auth = server.login()
    token = auth["Authorization"].split()[1]
    stream = Stream(f"ws://127.0.0.1:{server.port}/api/v1/stream?token={token}&topics=fills,alerts")
    try:
        stream.wait_for(lambda m: m["type"] == "Hello")
        # A strategy alert as TradingView renders it: placeholders substituted, numbers quoted.
        body = json.dumps(
            {
                "action": "buy",
                "ticker": "AAPL",
                "contracts": "2",
                "price": "190.12",
                "comment": "Long",
                "timenow": timenow(),
            }
        )
        answer = httpx.post(
            server.base + server.webhook_path, content=body,
            headers={"Content-Type": "text/plain"}, timeout=5,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        reply = answer.json()
        assert reply["ok"] is True
        assert reply["duplicate"] is False
        alert = server.settled(auth, reply["alert_id"])
        assert alert["status"] == "EXECUTED", alert
        [order] = alert["fate"]["orders"]
        assert order["symbol"] == "AAPL.PAPER"
        assert order["quantity"] == "2"
        coid = order["client_order_id"]
        fill = stream.wait_for(lambda m: m["type"] == "OrderFilled" and m["data"]["coid"] == coid)
        assert fill["data"]["instrument"] == "AAPL.PAPER"
        assert fill["data"]["qty"] == "2"
        settled = stream.wait_for(
            lambda m: m["type"] == "AlertSettled" and m["data"]["alert_id"] == reply["alert_id"]
        )
        assert settled["data"]["status"] == "EXECUTED"
        fills = server.get("/api/v1/fills", auth, account="paper")["fills"]
        assert [f["quantity"] for f in fills if f["client_order_id"] == coid] == ["2"]
        entries = server.get("/api/v1/ledger/entries", auth, account="paper")["entries"]
        booked = [e for e in entries if e["details"].get("client_order_id") == coid]
        assert len(booked) == 1, entries[:3]
        assert server.get("/api/v1/ledger/verify", auth)["ok"] is True

        # Plain text, another dialect, same path.
        answer = httpx.post(server.base + server.webhook_path, content="SELL NVDA 3", timeout=5)
        assert answer.status_code == 200, answer.text
        alert = server.settled(auth, answer.json()["alert_id"])
        assert alert["status"] == "EXECUTED", alert
        assert alert["fate"]["orders"][0]["symbol"] == "NVDA.PAPER"
    finally:
        stream.close()
    # The banner shows the webhook URL once and the log after it never; a password the
    # operator gave in $ALGODESK_ADMIN_PASSWORD is never printed, not even in the banner.
    banner = next(n for n, line in enumerate(server.output) if line.startswith("database:"))
    logged = "\n".join(server.output[banner + 1 :])
    assert server.webhook_path.rsplit("/", 1)[1] not in logged
    assert ADMIN_PASSWORD not in "\n".join(server.output)
    assert "created user admin with the password in $ALGODESK_ADMIN_PASSWORD" in server.output
    assert token not in logged


def test_ready_shows_how_far_behind_the_desk_is_and_its_limit(server: Server) -> None:
    ready = httpx.get(server.base + "/ready", timeout=5).json()
    assert ready["status"] == "ready"
    assert ready["alerts_backlog_limit_seconds"] == 7.5  # --alert-backlog
    assert ready["alerts_behind_seconds"] >= 0
    assert ready["alerts_estimate_factor"] == 1.0  # no alert waited long enough to compare


def test_the_server_carries_no_pandas_numpy_or_pyarrow(server: Server) -> None:
    """The desk's process leaves the exchange calendars' library (and pandas with it) to a
    child at start, and the backtester and the bar files' pyarrow to when they are used: about
    100 MB of its memory. Read from the libraries the process has mapped, while it serves."""
    assert server.proc is not None
    assert httpx.get(server.base + "/ready", timeout=5).json()["status"] == "ready"
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text(encoding="utf-8")
    loaded = {name for name in ("pandas", "numpy", "pyarrow") if f"/site-packages/{name}/" in maps}
    assert "/site-packages/sqlalchemy/" in maps  # (the check reads the right process)
    assert loaded == set()


def test_bad_alerts_get_a_4xx_with_a_reason_and_are_kept_in_the_inbox(server: Server) -> None:
    auth = server.login()
    cases = {
        '{"action": "buy", "ticker": "AAPL",}': (422, "invalid_json"),
        '{"action": "{{strategy.order.action}}", "ticker": "AAPL"}': (
            422, "unresolved_placeholder",
        ),
        "AAPL Crossing 190.5": (422, "no_instruction"),
        '{"action": "buy", "ticker": "AAPL", "timenow": "2020-01-01T00:00:00Z"}': (422, "stale"),
    }  # fmt: skip
    for body, (status, reason) in cases.items():
        answer = httpx.post(server.base + server.webhook_path, content=body, timeout=5)
        assert (answer.status_code, answer.json()["reason"]) == (status, reason), body
        stored = server.get(f"/api/v1/alerts/{answer.json()['alert_id']}", auth)
        assert (stored["status"], stored["reason"]) == ("REJECTED", reason)
    too_large = httpx.post(server.base + server.webhook_path, content=b"x" * 70_000, timeout=5)
    assert (too_large.status_code, too_large.json()["reason"]) == (413, "too_large")
    unknown = httpx.post(server.base + "/webhooks/tradingview/not-a-token", content="BUY AAPL 1")
    assert unknown.status_code == 401


def test_explain_parses_without_executing(server: Server) -> None:
    auth = server.login()
    before = len(server.get("/api/v1/orders", auth)["orders"])
    body = '{"action": "long", "symbol": "BTCUSDT", "qty": "0.01", "sl": "1.5%", "tp": "3%"}'
    answer = httpx.post(server.base + server.webhook_path + "/explain", content=body, timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {
        "accepted": True,
        "reason": None,
        "message": "1 order",
        "orders": [
            {
                "bot": "demo", "action": "buy", "symbol": "BTCUSD.PAPER", "quantity": "0.01",
                "sizing": "units", "order_type": "MARKET", "price": None, "stop_loss": "1.5%",
                "take_profit": "3%", "trailing": None,
            }
        ],
    }  # fmt: skip
    assert len(server.get("/api/v1/orders", auth)["orders"]) == before


def test_the_api_needs_a_principal_and_the_right_role(server: Server) -> None:
    assert httpx.get(server.base + "/api/v1/orders").status_code == 401
    bad = httpx.get(server.base + "/api/v1/orders", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["reason"]) == (401, "invalid_token")
    assert httpx.get(server.base + "/health").json() == {"status": "ok"}


def test_a_forwarded_for_header_is_not_believed_from_an_untrusted_peer(server: Server) -> None:
    """The server started without --trusted-proxy: a local client's X-Forwarded-For is
    ignored for the alert's address and for sign-in rate limits (uvicorn's own proxy handling
    is off)."""
    answer = httpx.post(
        server.base + server.webhook_path,
        content="BUY AAPL 1",
        headers={"X-Forwarded-For": "203.0.113.77"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    alert = server.get(f"/api/v1/alerts/{answer.json()['alert_id']}", server.login())
    assert alert["remote_addr"] == "127.0.0.1"
