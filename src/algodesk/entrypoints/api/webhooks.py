"""``POST /webhooks/tradingview/{token}`` and its ``/explain`` twin.

The body is read up to 64 KiB (a larger one is refused with 413 before it is read to the end),
sniffed by the parser whatever the Content-Type says, and stored before the answer. Only a body
that was not stored gets a 5xx (503), since TradingView resending it is then wanted: the desk's
storage failed, it takes alerts in more slowly than they arrive (``desk_busy``; see
:mod:`.intake_queue`), or it is too far behind on executing them (``desk_behind``; see
:mod:`algodesk.services.backlog`). Both of those carry ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.entrypoints.api.errors import http_refusal, refusal
from algodesk.entrypoints.api.intake_queue import IntakeQueue
from algodesk.services.alerts import MAX_BODY_BYTES

__all__ = ["AlertEndpoint", "client_address", "webhook_router"]

_log = logging.getLogger("algodesk.webhooks")


def client_address(request: HTTPConnection, trusted_proxies: Collection[str]) -> str | None:
    """The caller's address: the peer, or, when the peer is one of our proxies, the last
    address in ``X-Forwarded-For`` that is not one of them (a client can forge the rest)."""
    peer = request.client.host if request.client else None
    if peer is None or peer not in trusted_proxies:
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop in trusted_proxies:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return None
    return peer


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None when it is larger than the cap."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > MAX_BODY_BYTES:
            return None
    return bytes(chunks)


def _unavailable() -> JSONResponse:
    return refusal(503, "unavailable", "not stored; send it again")


def _busy(wait: float) -> JSONResponse:
    return refusal(
        503,
        "desk_busy",
        f"not stored: the desk takes alerts in more slowly than they arrive (this one would "
        f"have waited about {wait:.1f} s); send it again later (TradingView resends a 5xx "
        "after 5 s, up to 3 times)",
        headers={"Retry-After": "5"},
    )


def _too_large() -> JSONResponse:
    return refusal(413, "too_large", f"expected a body of at most {MAX_BODY_BYTES} bytes")


class AlertEndpoint:
    """``POST /webhooks/tradingview/{token}``: the alert stored, then the answer.

    The same endpoint serves the FastAPI route (its place in the OpenAPI spec) and, as a plain
    ASGI app, the HTTP edge's shortcut (:meth:`shortcut`): TradingView's alerts are the
    desk's hot path, and FastAPI's routing, dependency solving and exception layers cost about
    0.1 ms of CPU per request (a tenth of taking an alert in). The edge still adds the request
    id and the security headers; webhooks are not rate limited (see :mod:`.edge`). Past the
    route, FastAPI's instrumentation does not name it (OpenTelemetry's ``http.route``).

    On the shortcut, a sender that hangs up before its body arrived is logged and not
    answered (nothing was stored), and any other failure is answered as JSON through the
    edge (503: not stored, send it again; an HTTP error with its own status), not as a bare
    500 without the edge's headers.
    """

    def __init__(
        self,
        runtime: DeskRuntime,
        trusted_proxies: Collection[str] = (),
        queue: IntakeQueue | None = None,
    ) -> None:
        """``queue``: the threads alerts are taken in on (see :mod:`.intake_queue`)."""
        self._runtime = runtime
        self._proxies = frozenset(trusted_proxies)
        self.queue = queue or IntakeQueue()
        #: The FastAPI route this endpoint serves (set by :func:`webhook_router`): the
        #: shortcut takes what it matches, as Starlette matches it.
        self.route: APIRoute | None = None

    async def respond(self, token: str, request: Request) -> JSONResponse:
        body = await _read_capped(request)
        if body is None:
            return _too_large()
        # Far behind on executing alerts: refused here, without a thread (a resend of a stored
        # alert goes on, to be answered as that alert).
        intake = self._runtime.intake
        if (behind := intake.refuse_early(body)) is not None:
            return JSONResponse(behind.body, status_code=503, headers=dict(behind.headers))
        # Taking alerts in more slowly than they arrive: refused now, not after a wait past
        # TradingView's patience (a resend, as above, waits its turn).
        if self.queue.full() and not intake.stored_recently(body):
            self.queue.refuse()
            return _busy(self.queue.wait())
        remote = client_address(request, self._proxies)
        try:
            answer = await self.queue.run(self._runtime.intake.receive, token, body, remote)
        except Exception:
            _log.exception("an alert could not be stored")
            return _unavailable()
        return JSONResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))

    def shortcut(self, scope: Scope) -> ASGIApp | None:
        """The ASGI app for a request this endpoint answers (a POST to its path), else None:
        what the route would match, nothing more (other methods, a trailing slash, the
        ``/explain`` twin go through FastAPI as before)."""
        if scope["method"] != "POST" or self.route is None:
            return None
        match, child = self.route.matches(scope)
        if match is not Match.FULL:
            return None
        token: str = child["path_params"]["token"]

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                response = await self.respond(token, Request(scope, receive))
            except ClientDisconnect:
                _log.info("an alert's sender hung up before its body arrived; nothing stored")
                return
            except StarletteHTTPException as exc:  # a body limit of an app around the desk
                response = http_refusal(exc)
            except Exception:
                _log.exception("an alert could not be taken in")
                response = _unavailable()
            await response(scope, receive, send)

        return app


def _not_explained(status: int, reason: str, message: str) -> JSONResponse:
    """An explain answer (its shape, whatever went wrong) for an alert it could not look at."""
    body = {"accepted": False, "reason": reason, "message": message, "orders": []}
    return JSONResponse(body, status_code=status)


def webhook_router(runtime: DeskRuntime, endpoint: AlertEndpoint) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.post(
        "/webhooks/tradingview/{token}",
        summary="Receive a TradingView alert",
        responses={401: {}, 403: {}, 413: {}, 422: {}, 503: {}},
    )
    async def tradingview(token: str, request: Request) -> JSONResponse:
        return await endpoint.respond(token, request)

    route = router.routes[-1]
    assert isinstance(route, APIRoute)
    endpoint.route = route

    @router.post(
        "/webhooks/tradingview/{token}/explain",
        summary="Parse an alert without executing it",
        responses={401: {}, 413: {}, 503: {}},
    )
    async def explain(token: str, request: Request) -> JSONResponse:
        body = await _read_capped(request)
        if body is None:
            return _not_explained(
                413, "too_large", f"expected a body of at most {MAX_BODY_BYTES} bytes"
            )

        def work() -> JSONResponse:
            hook = runtime.intake.hook(token)
            if hook is None:
                return _not_explained(401, "unknown_token", "no webhook here")
            verdict = runtime.intake.check(hook, body, runtime.clock.now())
            return JSONResponse(runtime.processor.explain(hook.bot_id, verdict).as_dict())

        try:
            return await run_in_threadpool(work)
        except Exception:  # the desk's storage, not the alert: try again later
            _log.exception("an alert could not be explained")
            return _not_explained(
                503, "unavailable", "the desk could not read its webhooks; try again"
            )

    return router
