"""The FastAPI application of the desk: webhooks, ``/health``, ``/ready`` and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from algodesk import __version__
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.admin import admin_router
from algodesk.entrypoints.api.backtests import backtests_router
from algodesk.entrypoints.api.docs import mount_docs
from algodesk.entrypoints.api.edge import EdgeMiddleware, RateLimiter, RateLimits
from algodesk.entrypoints.api.errors import http_refusal, refusal
from algodesk.entrypoints.api.intake_queue import IntakeQueue
from algodesk.entrypoints.api.portfolio import portfolio_router
from algodesk.entrypoints.api.stream import stream_router
from algodesk.entrypoints.api.users import users_router
from algodesk.entrypoints.api.v1 import api_router
from algodesk.entrypoints.api.webhooks import AlertEndpoint, webhook_router
from algodesk.entrypoints.web import mount_dashboard

__all__ = ["create_app"]


def create_app(
    runtime: DeskRuntime,
    *,
    trusted_proxies: Collection[str] = (),
    manage_runtime: bool = False,
    rate_limits: RateLimits | None = None,
    idle_minutes: int = 30,
    alert_queue: IntakeQueue | None = None,
) -> FastAPI:
    """The app over a wired runtime. With ``manage_runtime`` the app stops the runtime on
    shutdown (``serve`` starts it before the server listens). ``idle_minutes``: the
    dashboard signs a browser out after this long without input. ``alert_queue``: the threads
    the webhook takes alerts in on (default :class:`IntakeQueue`)."""
    limits = rate_limits or RateLimits()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pools.size()  # the reads' pool (the commands have their own)
        yield
        if manage_runtime:
            runtime.stop()

    app = FastAPI(
        title="algodesk",
        version=__version__,
        description="A self-hosted trading desk: signals become risk-checked orders.",
        lifespan=lifespan,
        docs_url=None,  # our own page (mount_docs): Swagger UI from the package, not a CDN
        redoc_url=None,  # ReDoc would load from a CDN
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return refusal(422, "invalid_request", "the request is malformed", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_refusal(exc)

    @app.get("/health", tags=["ops"], summary="The process is up")
    async def health() -> dict[str, str]:  # on the loop: answers however busy the threads
        return {"status": "ok"}

    @app.get(
        "/ready", tags=["ops"], summary="The desk has marks and takes alerts", responses={503: {}}
    )
    async def ready() -> JSONResponse:  # not in the reads' pool: a probe must answer
        ok = runtime.wait_ready(0)
        body = {
            "status": "ready" if ok else "starting",
            "pending_alerts": await pools.command(runtime.inbox.count_pending),
            # How long a new alert would wait for the alert thread (beyond the backlog's
            # limit, the webhook refuses alerts with 503 desk_behind).
            "alerts_behind_seconds": round(runtime.backlog.wait(), 3),
            # What the estimate is lengthened by: how much longer than estimated the alerts
            # taken lately waited (see services.backlog).
            "alerts_estimate_factor": round(runtime.backlog.factor, 3),
            "alerts_backlog_limit_seconds": runtime.backlog.limit.total_seconds(),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    app.state.user_limiter = RateLimiter(*limits.per_user)
    alerts = AlertEndpoint(runtime, trusted_proxies, alert_queue)
    app.add_middleware(
        EdgeMiddleware, limits=limits, trusted_proxies=trusted_proxies, shortcut=alerts.shortcut
    )
    app.include_router(webhook_router(runtime, alerts))
    app.include_router(api_router(runtime))
    app.include_router(admin_router(runtime))
    app.include_router(portfolio_router(runtime))
    app.include_router(backtests_router(runtime))
    app.include_router(users_router(runtime))
    app.include_router(stream_router(runtime))
    mount_dashboard(app, idle_minutes=idle_minutes)
    #: Why the desk has no /docs page, or None when it has one (``serve`` says which).
    app.state.docs_missing = mount_docs(app)
    return app
