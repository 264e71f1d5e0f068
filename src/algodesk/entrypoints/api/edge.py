"""The HTTP edge, around every request: a request id, security headers and rate limits.

* **Request id.** A sane ``X-Request-ID`` from the caller is kept, otherwise one is made; it is
  echoed in the answer and put on every log line written while the request runs
  (:class:`RequestIdFilter`).
* **Security headers.** ``nosniff``, no framing, no referrer, a same-origin content security
  policy (the dashboard loads only its own scripts), HSTS over HTTPS. CORS is off: no
  ``Access-Control-Allow-Origin`` is ever sent, so browsers keep other sites' pages out.
* **Rate limits** (token buckets; 429 with ``Retry-After``): per client address on
  ``/api/`` and, stricter, on sign-in; per user in :mod:`~algodesk.entrypoints.api.security`.
  TradingView webhooks are not limited here: TradingView does not resend an alert answered
  429, so a limit would lose alerts; they are authenticated by their token and deduplicated.
* **Shortcut.** A request the ``shortcut`` claims (``POST /webhooks/tradingview/{token}``, see
  :class:`~algodesk.entrypoints.api.webhooks.AlertEndpoint`) is answered past FastAPI's
  routing and layers, with the same request id and headers.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from algodesk.entrypoints.api.errors import refusal, refusal_body
from algodesk.entrypoints.api.webhooks import client_address

__all__ = [
    "CSP",
    "EdgeMiddleware",
    "RateLimiter",
    "RateLimits",
    "RequestIdFilter",
    "request_id",
]

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_log = logging.getLogger("algodesk.api")
_SANE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

#: Pages and API: only our own scripts and connections. Plotly adds inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RateLimiter:
    """Token buckets by key: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"expected rate > 0 and burst >= 1, was {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when a token was taken; else the seconds until one is there."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > self._max_keys:
                self._forget_full(now)
        return wait

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: they hold no state worth keeping."""
        full = [
            k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per second and burst, per client address on ``/api/``, per address on
    sign-in and refresh, and per signed-in user (an API key counts as its user)."""

    per_address: tuple[float, int] = (50.0, 600)
    sign_in: tuple[float, int] = (0.5, 30)
    per_user: tuple[float, int] = (30.0, 300)


def route_path(scope: Scope) -> str:
    """The path as the app's routes see it: below its ``root_path`` (the desk mounted in
    another app), as Starlette's routing strips it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def too_many(wait: float) -> tuple[bytes, dict[str, str]]:
    body = refusal_body("rate_limited", f"too many requests; retry in {math.ceil(wait)} s")
    return orjson.dumps(body), {"Retry-After": str(max(1, math.ceil(wait)))}


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limits: RateLimits | None = None,
        trusted_proxies: Collection[str] = (),
        shortcut: Callable[[Scope], ASGIApp | None] | None = None,
    ) -> None:
        """``shortcut``: for an HTTP request it answers, the ASGI app that answers it past the
        framework's routing (the TradingView webhook); the edge's request id, headers and
        rate limits (none on webhooks) still apply."""
        self.app = app
        self.shortcut = shortcut
        self.limits = limits or RateLimits()
        self.trusted = frozenset(trusted_proxies)
        self.per_address = RateLimiter(*self.limits.per_address)
        self.sign_in = RateLimiter(*self.limits.sign_in)

    def _limited(self, scope: Scope) -> float:
        path = route_path(scope)
        if not path.startswith("/api/"):
            return 0.0
        address = client_address(HTTPConnection(scope), self.trusted) or "unknown"
        wait = self.per_address.take(address)
        if not wait and path in ("/api/v1/auth/login", "/api/v1/auth/refresh"):
            wait = self.sign_in.take(address)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            if scope["type"] == "websocket":
                # A connection attempt counts like a request from its address; one over the
                # limit is refused before the handshake (1013: try again later).
                if self._limited(scope):
                    await send({"type": "websocket.close", "code": 1013})
                    return
                await self.app(scope, receive, send)
                return
            https = scope.get("scheme") == "https"
            started = False

            async def send_with_headers(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    headers = MutableHeaders(scope=message)
                    headers["X-Request-ID"] = rid
                    headers.setdefault("X-Content-Type-Options", "nosniff")
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("Referrer-Policy", "no-referrer")
                    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                    headers.setdefault(
                        "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
                    )
                    # A page with a policy of its own keeps it (the API docs: see .docs).
                    headers.setdefault("Content-Security-Policy", CSP)
                    if https:
                        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                await send(message)

            wait = self._limited(scope)
            if wait:
                body, extra = too_many(wait)
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                        ],
                    }
                )
                await send_with_headers({"type": "http.response.body", "body": body})
                return
            target = self.shortcut(scope) if self.shortcut is not None else None
            try:
                await (target or self.app)(scope, receive, send_with_headers)
            except Exception:
                if started:  # too late to answer: the server ends the response
                    raise
                # Answered here, in JSON with the request id and the edge's headers (a bare
                # text 500 came from the server's own layer, outside the edge): the caller
                # can name the request, and the log has the traceback under that id.
                _log.exception("%s %s failed", scope["method"], scope["path"])
                failed = refusal(
                    500,
                    "internal_error",
                    f"the desk failed on this request; its log has the details under "
                    f"request id {rid}. An order may or may not have been sent: check the "
                    f"orders before sending it again",
                )
                await failed(scope, receive, send_with_headers)
        finally:
            request_id.reset(token)
