"""The JSON of every refusal the desk answers: ``{"ok": false, "reason": code, "message":
text}``, plus what a refusal adds (the problems of a malformed request). Made here only, so
that every client reads one shape. (Explaining an alert answers in its own documented shape.)"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["http_refusal", "refusal", "refusal_body", "refused"]


def refusal_body(reason: str, message: str, **more: object) -> dict[str, object]:
    """A refusal's body: ``reason`` is a stable code for programs, ``message`` for people."""
    return {"ok": False, "reason": reason, "message": message, **more}


def refusal(
    status: int,
    reason: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **more: object,
) -> JSONResponse:
    """A refusal answered with ``status`` (and ``headers``)."""
    return JSONResponse(refusal_body(reason, message, **more), status_code=status, headers=headers)


def refused(
    reason: str, message: str, status: int = 422, headers: Mapping[str, str] | None = None
) -> HTTPException:
    """The exception a route raises to refuse a request: answered by :func:`http_refusal`."""
    return HTTPException(status, {"reason": reason, "message": message}, headers=headers)


def http_refusal(exc: StarletteHTTPException) -> JSONResponse:
    """The answer to an HTTP error raised anywhere (a route's :func:`refused`, Starlette's own
    404 or 405, a body limit of an app around the desk): its status and headers, its reason
    (``http_error`` when it gives none) and message, and any other fields it carries."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc.detail)}
    more = {k: v for k, v in detail.items() if k not in ("reason", "message")}
    reason, message = str(detail.get("reason", "http_error")), str(detail.get("message", ""))
    return refusal(exc.status_code, reason, message, headers=exc.headers, **more)
