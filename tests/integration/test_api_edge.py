"""The HTTP edge and the dashboard's API, in process: security headers, request ids, rate
limits with Retry-After, users, permissions, performance, status and closing a position."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.websockets import WebSocketDisconnect

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.commands import SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.matching import Quote
from algodesk.domain.orders import OrderType
from algodesk.domain.values import Quantity
from algodesk.entrypoints.api import docs as api_docs
from algodesk.entrypoints.api.app import create_app
from algodesk.entrypoints.api.edge import (
    EdgeMiddleware,
    RateLimiter,
    RateLimits,
    RequestIdFilter,
)
from algodesk.entrypoints.api.webhooks import AlertEndpoint, webhook_router
from algodesk.entrypoints.cli.serve import addresses
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
    # The API docs page keeps its own policy: the desk's, plus its one inline script's hash.
    docs_policy = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in docs_policy
    assert "frame-ancestors 'none'" in docs_policy


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


def test_sign_in_below_a_root_path_is_rate_limited_too(runtime: DeskRuntime) -> None:
    """The desk mounted in another app: its routes are matched below the mount, and so are
    its rate limits (they were skipped, which opened sign-in to guessing)."""
    outer = Starlette(
        routes=[Mount("/desk", app=create_app(runtime, rate_limits=RateLimits(sign_in=(0.01, 3))))]
    )
    with TestClient(outer) as client:
        wrong = {"username": "admin", "password": "wrong-password-1"}
        codes = [client.post("/desk/api/v1/auth/login", json=wrong).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]


def test_a_route_that_fails_answers_json_with_its_request_id_and_the_edges_headers(
    runtime: DeskRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the server's bare text 500 from outside the edge: the caller gets the request id
    to name the request by, and the log has the traceback under it."""
    app = create_app(runtime)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR, logger="algodesk.api"), TestClient(app) as client:
        answer = client.get("/api/v1/broken", headers={"X-Request-ID": "req-7"})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"] == "req-7"
    assert answer.headers["x-content-type-options"] == "nosniff"
    body = answer.json()
    assert (body["ok"], body["reason"]) == (False, "internal_error")
    assert "request id req-7" in body["message"]
    assert "RuntimeError: a bug" in caplog.text


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


@pytest.mark.parametrize(
    ("method", "path", "root"),
    [
        ("POST", "/webhooks/tradingview/tok-1", ""),
        ("GET", "/webhooks/tradingview/tok-1", ""),
        ("PUT", "/webhooks/tradingview/tok-1", ""),
        ("POST", "/webhooks/tradingview/tok-1/", ""),
        ("POST", "/webhooks/tradingview/tok-1/explain", ""),
        ("POST", "/webhooks/tradingview/", ""),
        ("POST", "/webhooks/tradingview/a/b", ""),
        ("POST", "/webhooks/tradingview/ x", ""),
        ("POST", "/api/v1/webhooks/tradingview/tok-1", ""),
        ("POST", "/desk/webhooks/tradingview/tok-1", "/desk"),
        ("POST", "/desk/webhooks/tradingview/tok-1", "/des"),
        ("POST", "/webhooks/tradingview/tok-1", "/webhooks"),
        ("POST", "/desk", "/desk"),
    ],
)
def test_the_webhook_shortcut_takes_exactly_the_requests_its_route_would(
    runtime: DeskRuntime, method: str, path: str, root: str
) -> None:
    """The edge hands a request to the alert endpoint past FastAPI only when the route would
    take it (other methods and paths get FastAPI's own answers), also below a root path."""
    endpoint = AlertEndpoint(runtime)
    scope = {"type": "http", "method": method, "path": path, "root_path": root}
    routed = [
        r.endpoint.__name__
        for r in webhook_router(runtime, endpoint).routes
        if isinstance(r, APIRoute) and r.matches(scope)[0] is Match.FULL
    ]
    short = endpoint.shortcut(scope) is not None
    assert short == (routed == ["tradingview"])


def test_an_alert_answer_carries_the_edges_headers(
    runtime: DeskRuntime, client: TestClient
) -> None:
    token = runtime.prepare_demo().token
    answer = client.post(
        f"/webhooks/tradingview/{token}",
        content=b'{"action": "buy", "symbol": "AAPL", "qty": 1}',
        headers={"X-Request-ID": "tv-1", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"] == "tv-1"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    unknown = client.post("/webhooks/tradingview/no-such-token", content=b"BUY AAPL 1")
    assert unknown.status_code == 401
    assert unknown.json()["reason"] == "unknown_token"
    assert len(unknown.headers["x-request-id"]) == 32
    too_large = client.post(f"/webhooks/tradingview/{token}", content=b"x" * (64 * 1024 + 1))
    assert too_large.status_code == 413
    assert too_large.json()["reason"] == "too_large"
    assert client.get(f"/webhooks/tradingview/{token}").status_code == 405  # FastAPI's answer


def test_the_edge_sends_a_shortcut_request_past_the_app_with_its_headers() -> None:
    answered: list[str] = []

    def answering(name: str) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            answered.append(name)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        return app

    short = answering("shortcut")
    edge = EdgeMiddleware(
        answering("framework"), shortcut=lambda scope: short if scope["path"] == "/x" else None
    )

    def call(path: str) -> dict[bytes, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "client": None}
        asyncio.run(edge(scope, receive, send))
        return dict(sent[0]["headers"])

    headers = call("/x")
    assert answered == ["shortcut"]
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert len(headers[b"x-request-id"]) == 32
    call("/y")
    assert answered == ["shortcut", "framework"]


def _asgi_post(app: Any, path: str, receive: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"desk"), (b"x-request-id", b"tv-9")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return sent


def _answer(sent: list[dict[str, Any]]) -> tuple[int, dict[bytes, bytes], Any]:
    """The status, headers and JSON body of an answer sent as ASGI messages."""
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


def test_an_alert_goes_past_fastapis_router(
    runtime: DeskRuntime, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router marks a request it routes (``endpoint`` in its scope); an alert arrives
    without it, the explain twin with it."""
    routed: list[bool] = []
    respond = AlertEndpoint.respond

    async def noting(self: AlertEndpoint, token: str, request: Any) -> Any:
        routed.append("endpoint" in request.scope)
        return await respond(self, token, request)

    monkeypatch.setattr(AlertEndpoint, "respond", noting)
    token = runtime.prepare_demo().token
    answer = client.post(f"/webhooks/tradingview/{token}", content=b"BUY AAPL 1")
    assert answer.status_code == 200, answer.text
    assert routed == [False]


def test_a_sender_that_hangs_up_mid_body_is_logged_not_answered(
    runtime: DeskRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    token = runtime.prepare_demo().token

    async def hang_up() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with caplog.at_level(logging.INFO, logger="algodesk.webhooks"):
        sent = _asgi_post(create_app(runtime), f"/webhooks/tradingview/{token}", hang_up)
    assert sent == []
    assert "hung up" in caplog.text
    assert runtime.inbox.count_pending() == 0


def test_a_failure_taking_an_alert_in_is_a_503_with_the_edges_headers(
    runtime: DeskRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a bare 500 without a request id: TradingView resends a 5xx, and the log says why."""
    token = runtime.prepare_demo().token

    async def broken() -> dict[str, Any]:
        raise RuntimeError("the socket broke")

    with caplog.at_level(logging.ERROR, logger="algodesk.webhooks"):
        sent = _asgi_post(create_app(runtime), f"/webhooks/tradingview/{token}", broken)
    status, headers, body = _answer(sent)
    assert status == 503
    assert headers[b"x-request-id"] == b"tv-9"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert body["reason"] == "unavailable"
    assert "could not be taken in" in caplog.text


def test_the_api_docs_are_served_by_the_desk_not_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # no address off the desk
    found = re.search(
        r'<script src="(/vendor/swagger-ui/[0-9.]+/)swagger-ui-bundle.js">', page.text
    )
    assert found is not None, page.text
    assets = found.group(1)
    bundle = client.get(assets + "swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000
    assert client.get(assets + "swagger-ui.css").status_code == 200
    # Only Swagger UI's own files: not the package's other files in that folder.
    assert (assets_folder() / "__init__.py").is_file()
    other = client.get(assets + "__init__.py")
    assert other.status_code == 404
    assert other.json()["reason"] == "not_found"
    assert client.head("/docs").status_code == 200
    assert client.head(assets + "swagger-ui.css").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc only loads from a CDN
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def assets_folder() -> Path:
    return api_docs._swagger_files()[0]


def test_a_policy_the_page_script_cannot_be_added_to_leaves_the_desk_without_docs(
    runtime: DeskRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said at start (and by serve), not found out by a 500 on the first visit."""
    monkeypatch.setattr(api_docs, "CSP", "default-src 'self'; script-src 'self' 'unsafe-eval'")
    app = create_app(runtime)
    assert "no \"script-src 'self';\"" in app.state.docs_missing
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404


def _inline_hash(page: str) -> str:
    """The SHA-256 a browser checks a page's one inline script against."""
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 1, scripts
    return base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()


def test_the_api_docs_policy_allows_exactly_its_inline_script(client: TestClient) -> None:
    page = client.get("/docs")
    policy = page.headers["content-security-policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert script_src == f"script-src 'self' 'sha256-{_inline_hash(page.text)}'"
    assert "'unsafe-inline'" not in script_src


def test_the_api_docs_below_a_root_path_refer_to_it(runtime: DeskRuntime) -> None:
    """Mounted at /desk (or behind uvicorn's root_path /desk), the page's spec and files are
    found there, and its policy allows its script (whose spec address changed)."""
    parent = Starlette(routes=[Mount("/desk", app=create_app(runtime))])
    with TestClient(parent) as client:
        page = client.get("/desk/docs")
        assert page.status_code == 200
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(refs) == 3, refs
        assert all(r.startswith("/desk/vendor/swagger-ui/") for r in refs), refs
        assert all(client.get(r).status_code == 200 for r in refs)
        assert "url: '/desk/openapi.json'" in page.text
        assert client.get("/desk/openapi.json").status_code == 200
        policy = page.headers["content-security-policy"]
        assert f"'sha256-{_inline_hash(page.text)}'" in policy  # of this page's script
        assert "img-src 'self' data: blob:" in policy  # the desk's own policy, hashes added


def test_without_swagger_ui_files_the_desk_starts_without_docs(
    runtime: DeskRuntime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> Any:
        raise FileNotFoundError("the fastapi-swagger package is not installed")

    monkeypatch.setattr(api_docs, "_swagger_files", missing)
    with caplog.at_level(logging.WARNING, logger="algodesk.api"):
        app = create_app(runtime)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/health").status_code == 200
    assert "no API docs at /docs" in caplog.text
    # What `serve` prints of it: no address that answers 404, and why.
    shown = addresses("http://127.0.0.1:8000", app, "tok", "sqlite:///desk.db")
    assert "API docs:      none here (the fastapi-swagger package is not installed;" in shown[1]
    assert not any("/docs" in line for line in shown)
    monkeypatch.undo()
    with_docs = addresses("http://127.0.0.1:8000", create_app(runtime), "tok", "db")
    assert with_docs[1] == "API docs:      http://127.0.0.1:8000/docs"


def test_an_http_error_while_reading_an_alert_keeps_its_status_and_headers(
    runtime: DeskRuntime,
) -> None:
    """A body limit of an app around the desk (it raises 413 as the body is read) is answered
    in JSON through the edge, with its own status and headers, not as a 503."""
    token = runtime.prepare_demo().token

    async def limited() -> dict[str, Any]:
        raise StarletteHTTPException(413, "Content Too Large", headers={"Retry-After": "5"})

    sent = _asgi_post(create_app(runtime), f"/webhooks/tradingview/{token}", limited)
    status, headers, body = _answer(sent)
    assert status == 413
    assert headers[b"retry-after"] == b"5"
    assert headers[b"x-request-id"] == b"tv-9"
    assert body == {
        "ok": False,
        "reason": "http_error",
        "message": "Content Too Large",
    }

    async def with_reason() -> dict[str, Any]:  # answered as the app answers such an error
        raise StarletteHTTPException(413, {"reason": "too_large", "message": "over 1 KiB"})

    sent = _asgi_post(create_app(runtime), f"/webhooks/tradingview/{token}", with_reason)
    assert _answer(sent)[2] == {"ok": False, "reason": "too_large", "message": "over 1 KiB"}
