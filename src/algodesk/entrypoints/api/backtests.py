"""Backtests from the desk: what can be run, starting a run, its progress and its report.

Each run is ``algodesk backtest`` in its own process over a stored series (see
:mod:`algodesk.backtest.jobs`), one at a time. The HTML report opens in a new browser tab,
which cannot carry a bearer token: ``report-link`` gives a one-time ticket, valid for a minute,
that stands in for it on ``GET /backtests/{id}/report``.

No ``from __future__ import annotations``: FastAPI reads the dependencies from the annotations
of the inner functions, which name local values.
"""

import secrets
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from algodesk.backtest.jobs import BacktestJobs, JobInputError, QueueFullError
from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.users import Permission, Principal
from algodesk.entrypoints.api.errors import refused
from algodesk.entrypoints.api.security import require

__all__ = ["REPORT_CSP", "ReportTickets", "backtests_router"]

Json = dict[str, Any]
Scalar = str | int | float

#: The report inlines plotly.js and its charts' scripts, and fetches nothing.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
)


class NewBacktest(BaseModel):
    strategy: str = Field(min_length=1, max_length=100)
    series: str = Field(min_length=1, max_length=200)
    params: dict[str, Scalar] = Field(default_factory=dict, max_length=50)
    cash: Scalar = "100000"


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ReportTickets:
    """One-time tickets to one job's report, each valid for ``ttl`` seconds."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._tickets: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, job_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._tickets = {t: v for t, v in self._tickets.items() if v[1] > now}
            self._tickets[ticket] = (job_id, now + self.ttl)
        return ticket

    def redeem(self, ticket: str, job_id: str) -> bool:
        """Whether ``ticket`` was issued for ``job_id`` and is still valid; it is used up."""
        with self._lock:
            found = self._tickets.pop(ticket, None)
        return found is not None and found[0] == job_id and self._clock() < found[1]


def backtests_router(runtime: DeskRuntime) -> APIRouter:
    jobs = BacktestJobs(
        runtime.desk.settings.data_dir / "backtests", runtime.desk.bars, now=runtime.clock.now
    )
    runtime.stop_hooks.append(jobs.close)
    tickets = ReportTickets()
    router = APIRouter()
    reader = Annotated[Principal, Depends(require(runtime.auth, Permission.READ))]
    trader = Annotated[Principal, Depends(require(runtime.auth, Permission.TRADE))]

    def found(job_id: str) -> Json:
        job = jobs.get(job_id)
        if job is None:
            raise refused("not_found", f"no backtest {job_id}", 404)
        return job

    @router.get("/api/v1/backtests/options", tags=["backtests"], responses={401: {}, 403: {}})
    async def options(_: reader) -> Json:
        """The built-in strategies with their parameters' defaults, and every stored series
        of bars (``id`` is what a backtest's ``series`` names)."""
        series = await run_in_threadpool(jobs.series)
        # In a thread: the first call imports the strategies (and pandas), half a second.
        strategies = await run_in_threadpool(jobs.strategies)
        return {"strategies": strategies, "series": series}

    @router.post(
        "/api/v1/backtests",
        tags=["backtests"],
        status_code=202,
        responses={401: {}, 403: {}, 422: {}, 429: {}, 503: {}},
    )
    async def start(body: NewBacktest, _: trader) -> Json:
        """Queue a backtest of a built-in strategy over a stored series; it runs in its own
        process, one at a time. Bad inputs are refused here (422), not failed later."""
        params = {k: _text(v) for k, v in body.params.items()}
        try:
            return await run_in_threadpool(
                jobs.submit, body.strategy, body.series, params, _text(body.cash)
            )
        except JobInputError as exc:
            raise refused("invalid_backtest", str(exc)) from None
        except QueueFullError as exc:
            raise refused("busy", str(exc), 429, {"Retry-After": "30"}) from None
        except RuntimeError as exc:  # the desk is stopping: its queue is closed
            raise refused("unavailable", str(exc), 503) from None

    @router.get("/api/v1/backtests", tags=["backtests"], responses={401: {}, 403: {}})
    def listed(_: reader) -> Json:
        """Every backtest, newest first."""
        return {"backtests": jobs.jobs()}

    @router.get(
        "/api/v1/backtests/{job_id}", tags=["backtests"], responses={401: {}, 403: {}, 404: {}}
    )
    def one(job_id: str, _: reader) -> Json:
        """One backtest: its status, progress, error or statistics."""
        return found(job_id)

    @router.post(
        "/api/v1/backtests/{job_id}/report-link",
        tags=["backtests"],
        responses={401: {}, 403: {}, 404: {}},
    )
    def report_link(job_id: str, _: reader) -> Json:
        """A link to the backtest's HTML report, usable once within 60 seconds."""
        found(job_id)
        if jobs.report(job_id) is None:
            raise refused("not_found", f"backtest {job_id} has no report (yet)", 404)
        return {"url": f"/backtests/{job_id}/report?ticket={tickets.issue(job_id)}"}

    @router.get("/backtests/{job_id}/report", include_in_schema=False)
    def report(job_id: str, ticket: Annotated[str, Query(max_length=100)] = "") -> FileResponse:
        if not tickets.redeem(ticket, job_id):
            raise refused(
                "bad_ticket", "the report link is used up, expired or not this report's", 403
            )
        path = jobs.report(job_id)
        if path is None:
            raise refused("not_found", f"backtest {job_id} has no report", 404)
        return FileResponse(
            path,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"},
        )

    return router
