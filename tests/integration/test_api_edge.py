"""The HTTP edge and the dashboard's API, in process: security headers, request ids, rate
limits with Retry-After, users, permissions, performance, status and closing a position."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.values import Quantity
from algodesk.entrypoints.api.app import create_app
from algodesk.entrypoints.api.edge import RateLimiter, RateLimits, RequestIdFilter
from algodesk.services.demo import PAPER_ACCOUNT
from tests.desks import PASSWORD, demo_runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[DeskRuntime]:
    made = demo_runtime(tmp_path)
    yield made
    made.desk.close()


@pytest.fixture
def client(runtime: DeskRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as made:
        yield made


def admin(client: TestClient) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_every_answer_carries_security_headers_and_a_request_id_and_no_cors(
    client: TestClient,
) -> None:
    page = client.get("/login", headers={"Origin": "https://evil.example"})
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "access-control-allow-origin" not in page.headers
    assert len(page.headers["x-request-id"]) == 32
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    forged = client.get("/health", headers={"X-Request-ID": "bad id\twith\nstuff"})
    assert forged.headers["x-request-id"] != "bad id\twith\nstuff"
    # Swagger UI loads from its CDN: the docs page keeps its own policy.
    assert "content-security-policy" not in client.get("/docs").headers


def test_sign_in_is_rate_limited_per_address_with_retry_after(runtime: DeskRuntime) -> None:
    limits = RateLimits(sign_in=(0.01, 3))
    with TestClient(create_app(runtime, rate_limits=limits)) as client:
        wrong = {"username": "admin", "password": "wrong-password-1"}
        codes = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        limited = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["reason"] == "rate_limited"
        # Webhooks are never limited here: TradingView would not resend a 429.
        assert client.post("/webhooks/tradingview/no-such-token", content="x").status_code != 429


def test_requests_are_rate_limited_per_user(runtime: DeskRuntime) -> None:
    with TestClient(create_app(runtime, rate_limits=RateLimits(per_user=(0.01, 5)))) as client:
        headers = admin(client)
        codes = [client.get("/api/v1/accounts", headers=headers).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]


def test_a_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another key has its own bucket
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    with pytest.raises(ValueError, match="rate > 0"):
        RateLimiter(rate=0, burst=1)


def test_an_admin_adds_a_viewer_who_reads_but_may_not_add_users(client: TestClient) -> None:
    headers = admin(client)
    made = client.post(
        "/api/v1/users",
        json={"username": "Watcher", "password": "viewer-password-1", "role": "viewer"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["username"], made.json()["role"]) == ("watcher", "viewer")
    again = client.post(
        "/api/v1/users",
        json={"username": "watcher", "password": "viewer-password-1", "role": "viewer"},
        headers=headers,
    )
    assert again.status_code == 409
    short = client.post(
        "/api/v1/users", json={"username": "x", "password": "short", "role": "viewer"},
        headers=headers,
    )  # fmt: skip
    assert (short.status_code, short.json()["reason"]) == (422, "bad_value")
    login = client.post(
        "/api/v1/auth/login", json={"username": "watcher", "password": "viewer-password-1"}
    )
    viewer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = client.get("/api/v1/me", headers=viewer).json()
    assert (me["role"], me["permissions"]) == ("viewer", ["read"])
    assert "kill_switch" in client.get("/api/v1/me", headers=headers).json()["permissions"]
    assert client.get("/api/v1/users", headers=viewer).status_code == 403
    names = [u["username"] for u in client.get("/api/v1/users", headers=headers).json()["users"]]
    assert sorted(names) == ["admin", "watcher"]


def _fill(runtime: DeskRuntime, side: OrderSide, qty: str, price: str) -> None:
    iid = InstrumentId("AAPL.PAPER")
    price_ = Decimal(price)
    # The mark moves the paper exchange through the runtime's market listener.
    runtime.market.on_event(Quote(iid, runtime.clock.now(), price_, price_, price_))
    outcome = runtime.engine.handle(
        SubmitOrder(
            account_id=PAPER_ACCOUNT,
            instrument_id=iid,
            side=side,
            order_type=OrderType.MARKET,
            quantity=Quantity(Decimal(qty)),
        )
    )
    assert outcome.ok, outcome.payload()
    runtime.engine.pump()


def test_performance_status_and_closing_a_position_through_the_api(
    runtime: DeskRuntime, client: TestClient
) -> None:
    headers = admin(client)
    _fill(runtime, OrderSide.BUY, "10", "100")
    _fill(runtime, OrderSide.SELL, "4", "110")
    perf = client.get("/api/v1/accounts/paper/performance", headers=headers).json()
    usd = perf["currencies"]["USD"]
    assert (usd["closing_fills"], usd["wins"], Decimal(usd["win_rate"])) == (1, 1, 1)
    assert Decimal(usd["realized"]) == Decimal(40) - _fees(client, headers)
    assert Decimal(usd["exposure"]) == Decimal(6) * Decimal(110)
    assert Decimal(usd["today_pnl"]) == Decimal(usd["equity"]) - Decimal(100000)
    assert usd["curve"][-1]["equity"] == usd["equity"]
    status = client.get("/api/v1/status", headers=headers).json()
    assert status["venues"][0]["venue"] == "PAPER"
    assert [f["instrument"] for f in status["feed"]] == ["AAPL.PAPER"]
    closed = client.post(
        "/api/v1/positions/close",
        json={"account": "paper", "instrument": "AAPL.PAPER"},
        headers=headers,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["ok"] is True
    runtime.engine.pump()
    positions = client.get("/api/v1/positions", headers=headers).json()["positions"]
    assert positions == []
    assert client.get("/api/v1/accounts/nope/performance", headers=headers).status_code == 404


def _fees(client: TestClient, headers: dict[str, str]) -> Decimal:
    fills = client.get("/api/v1/fills", headers=headers).json()["fills"]
    return sum((Decimal(f["fee"]) for f in fills), Decimal(0))


def test_the_dashboard_pages_and_plotly_are_served_from_the_package(client: TestClient) -> None:
    for path in ["/", "/positions", "/bots", "/alerts", "/risk", "/ledger", "/backtests"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<script type="module" src="/static/js/pages/' in page.text
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000
    assert client.get("/static/js/api.js").status_code == 200
    for sneaky in ("/static/%2e%2e/pages.py", "/static/..%2fpages.py", "/static/%2e%2e%2fpages.py"):
        assert client.get(sneaky).status_code == 404, sneaky


def test_a_log_line_written_during_a_request_carries_its_request_id(client: TestClient) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("algodesk")
    level = logger.level
    headers = {**admin(client), "X-Request-ID": "req-42"}
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        answer = client.post(  # the user's creation is logged in a worker thread
            "/api/v1/users",
            json={"username": "logged", "password": "viewer-password-1", "role": "viewer"},
            headers=headers,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == "req-42"
    assert records, "creating a user wrote no log line"
    assert {getattr(r, "request_id", None) for r in records} == {"req-42"}


def test_stream_connections_count_against_the_address_rate_limit(runtime: DeskRuntime) -> None:
    limits = RateLimits(per_address=(0.01, 3))
    with TestClient(create_app(runtime, rate_limits=limits)) as client:
        token = admin(client)["Authorization"].split()[1]  # the sign-in: request 1
        for _ in range(2):  # requests 2 and 3
            with client.websocket_connect(f"/api/v1/stream?token={token}") as ws:
                assert ws.receive_json()["topic"] == "stream"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(f"/api/v1/stream?token={token}"),
        ):
            pass
        assert refused.value.code == 1013
